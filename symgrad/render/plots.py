"""Drawing the plots of the loss (``symgrad.pictures.plots``) with matplotlib (Agg backend,
no display) as SVG, PDF or PNG, byte for byte the same on every run: the SVG ids are salted
with a fixed string and the files carry no date or version.
"""

from __future__ import annotations

import io
from typing import Any, Callable

import numpy as np

from . import plain
from ..pictures.domain import real
from ..pictures.plots import Contour, Tangent, Tangents, Training


def tangent_figure(shown: Tangents, extension: str) -> bytes:
    """The tangent plots side by side, as ``extension`` (svg, pdf or png) bytes."""
    return _figure(len(shown), lambda axes: [_draw(ax, t) for ax, t in zip(axes, shown)], extension)


def _figure(panels: int, draw: Callable[[Any], Any], extension: str,
            size: tuple[float, float] = (4.2, 3.2)) -> bytes:
    """A figure of ``panels`` axes side by side, drawn by ``draw(axes)``, saved as bytes
    that are the same on every run."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "symgrad", "svg.fonttype": "path",
                                "font.size": 9, "pdf.compression": 6}):
        figure, axes = plt.subplots(1, panels, figsize=(size[0] * panels, size[1]), squeeze=False)
        with np.errstate(over="ignore"):  # log-scale ticks of losses near the largest double
            draw(list(axes[0]))
            figure.tight_layout()
        buffer = io.BytesIO()
        metadata = {"svg": {"Date": None, "Creator": None},
                    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
                    "png": {"Software": None}}[extension]
        with np.errstate(over="ignore"):
            figure.savefig(buffer, format=extension, metadata=metadata, dpi=120)
        plt.close(figure)
    return buffer.getvalue()


def _draw(ax, tangent: Tangent) -> None:  # type: ignore[no-untyped-def]
    name, loss = plain.name(tangent.parameter), plain.loss_name()
    line = tangent.loss + tangent.slope * (tangent.xs - tangent.value)
    ax.plot(tangent.xs, tangent.losses, color="#1f4e9c", label=f"{loss} along {name}")
    ax.plot(tangent.xs, line, color="#b00020", linestyle="--",
            label=f"tangent, slope ∂{loss}/∂{name} = {plain.number(tangent.slope)}")
    ax.plot([tangent.value], [tangent.loss], "o", color="#222")
    if tangent.step_to is not None and np.isfinite(tangent.step_loss):
        _step(ax, tangent)
        ax.axvline(tangent.step_to, color="#2a7d2a", linestyle=":", lw=1)
        ax.plot([tangent.step_to], [tangent.step_loss], "o", color="#2a7d2a",
                label=f"step to {name} − η ∂{loss}/∂{name} = {plain.number(tangent.step_to)} (η = {plain.number(tangent.rate)})")
    finite = tangent.losses[np.isfinite(tangent.losses)]
    low, high = (float(np.min(finite)), float(np.max(finite))) if finite.size else (0.0, 1.0)
    pad = 0.15 * (high - low or 1.0)
    ax.set_ylim(low - pad, high + pad)
    ax.set_xlabel(name)
    ax.set_ylabel(plain.loss_name())
    ax.grid(alpha=0.3)
    falling = tangent.slope < 0
    if tangent.inset is not None:
        _inset(ax, tangent, name, falling)
        ax.legend(loc="lower left" if falling else "lower right", fontsize=7)
    else:
        ax.legend(loc="best", fontsize=7)


def _step(ax, tangent: Tangent) -> None:  # type: ignore[no-untyped-def]
    """The step as an arrow from the point to where it lands on the curve."""
    ax.annotate("", xy=(tangent.step_to, tangent.step_loss), xytext=(tangent.value, tangent.loss),
                arrowprops={"arrowstyle": "->", "color": "#2a7d2a", "lw": 1.5})


def _inset(ax, tangent: Tangent, name: str, falling: bool) -> None:  # type: ignore[no-untyped-def]
    """A small step enlarged: the curve, the tangent and the step around the point in an
    inset (in the corner the curve leaves free), its scale in its title and its window
    marked on the plot."""
    low, high = tangent.inset
    xs = np.linspace(low, high, 101)
    with np.errstate(all="ignore"):
        losses = real(tangent.loss_at(xs), xs.shape)
    inset = ax.inset_axes([0.55, 0.5, 0.42, 0.4] if falling else [0.08, 0.5, 0.42, 0.4])
    inset.plot(xs, losses, color="#1f4e9c")
    inset.plot(xs, tangent.loss + tangent.slope * (xs - tangent.value), color="#b00020", linestyle="--")
    inset.plot([tangent.value], [tangent.loss], "o", color="#222", markersize=4)
    inset.plot([tangent.step_to], [tangent.step_loss], "o", color="#2a7d2a", markersize=4)
    _step(inset, tangent)
    inset.axvline(tangent.step_to, color="#2a7d2a", linestyle=":", lw=1)
    low_loss, high_loss = float(np.nanmin(losses)), float(np.nanmax(losses))
    spread = high_loss - low_loss or abs(tangent.loss) or 1.0
    inset.set_ylim(low_loss - 0.15 * spread, high_loss + 0.15 * spread)
    inset.set_xlim(low, high)
    inset.set_title(f"the step, {name} enlarged {tangent.magnified:.0f} times", fontsize=6.5)
    inset.tick_params(labelsize=5.5)
    inset.grid(alpha=0.3)
    ax.indicate_inset_zoom(inset, edgecolor="#666")


def contour_figure(shown: Contour, extension: str) -> bytes:
    """The contour plot as ``extension`` bytes."""
    return _figure(1, lambda axes: _draw_contour(axes[0], shown), extension, (4.8, 4.0))


def _draw_contour(ax, shown: Contour) -> None:  # type: ignore[no-untyped-def]
    p, q = (plain.name(s) for s in shown.parameters)
    lines = ax.contour(shown.xs, shown.ys, shown.losses, levels=14, cmap="viridis", linewidths=0.9)
    ax.clabel(lines, fontsize=6, fmt="%.3g")
    (x, y), (gx, gy) = shown.point, shown.gradient
    norm = float(np.hypot(gx, gy)) or 1.0
    length = 0.25 * min(shown.xs[-1] - shown.xs[0], shown.ys[-1] - shown.ys[0])
    ax.annotate("", xy=(x + gx / norm * length, y + gy / norm * length), xytext=(x, y),
                arrowprops={"arrowstyle": "->", "color": "#b00020", "lw": 1.6})
    ax.plot([], [], color="#b00020", label=f"gradient ({plain.number(gx)}, {plain.number(gy)}), direction")
    if shown.step_to is not None:
        ax.annotate("", xy=shown.step_to, xytext=(x, y),
                    arrowprops={"arrowstyle": "->", "color": "#2a7d2a", "lw": 1.6})
    ax.plot([x], [y], "o", color="#222", label=f"({p}, {q}) = ({plain.number(x)}, {plain.number(y)})")
    if shown.step_to is not None:
        ax.plot([shown.step_to[0]], [shown.step_to[1]], "o", color="#2a7d2a",
                label=f"after one step (η = {plain.number(shown.rate)})")
    ax.set_xlabel(p)
    ax.set_ylabel(q)
    ax.set_aspect("auto")
    ax.legend(loc="upper left", fontsize=7, framealpha=0.85)


def training_figure(shown: Training, extension: str) -> bytes:
    """The training curve as ``extension`` bytes."""
    return _figure(1, lambda axes: _draw_training(axes[0], shown), extension, (4.6, 2.4))


def _draw_training(ax, shown: Training) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.ticker import MaxNLocator

    ax.plot(range(len(shown.drawn)), shown.drawn, "o-", color="#1f4e9c", markersize=3)
    if shown.stopped is not None:
        ax.axvline(shown.stopped, color="#b00020", linestyle="--", lw=1,
                   label=f"step {shown.stopped}: the loss is not finite")
        ax.set_xlim(-0.5, shown.stopped + 0.5)
        ax.legend(loc="best", fontsize=7)
    if shown.logarithmic:
        ax.set_yscale("log")
    ax.set_xlabel("step of gradient descent")
    ax.set_ylabel(plain.loss_name() + (" (log scale)" if shown.logarithmic else ""))
    ax.set_title(f"η = {plain.number(shown.rate)}", fontsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
