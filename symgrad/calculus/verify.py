"""Checking derivations: every step's equation, and every result against ``sympy.diff``.

Each step claims an equation: d(expr)/d(var) = raw by its rule, or before = after for a
``SIMPLIFY`` step. ``verify_step`` evaluates both sides at random points, wherever the left
side is defined, with the left side of a rule step computed independently by ``sympy.diff``
of the expression with every activation written out in elementary functions. Agreement in
float64 within ``RTOL`` counts; a disagreement is re-checked at 30 digits, at the point taken
exactly, before it is reported, so rounding error in a long expression is not mistaken for a
wrong step (and a left side that is 0/0 there counts as undefined). Numbers beyond float64's
range never raise OverflowError: a huge rational in an equation is float64's infinity (the
equation undefined at that point), the 30-digit re-check compares in mpmath, and a worked
value float64 cannot hold is not compared with float64 (counted as undefined).

An unspecified function (the seed's f, with f', f'') has no values, so it is checked through
a witness: f is put equal to a smooth function with no symmetry, sin(a u) + e^(u/k) (a and
k from its name, so that f and g differ), f' to that function's derivative, and so on, before
``sympy.diff`` and the evaluation. A step holds for every f only if it holds for this one;
it is a numerical check for that f, as the others are for their points.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import mpmath
import numpy as np
import sympy as sp

from ..model.functions import NUMPY_FUNCTIONS, Activation, Unspecified, leaky_relu, relu
from ..model.graph import Graph
from .derivation import Derivation, Verification
from .kinds import Kind, factor_kinds
from .rules import Rule, Step

POINTS = 6
"""Random points per equation, in each of two ranges (both signs, then positive only)."""

RTOL, ATOL = 1e-7, 1e-9
"""Tolerances of the float64 comparison."""

MODULES = [{**NUMPY_FUNCTIONS, "DiracDelta": lambda x, *k: np.zeros_like(x),
            "Heaviside": lambda x, h0=0.5: np.heaviside(x, h0)}, np]
"""numpy's own Heaviside is a select that gives 1 for nan: np.heaviside keeps nan, so a
derivative such as Heaviside(log(x))/x stays undefined where log(x) is. numpy as the module,
not the name "numpy": for the name, lambdify runs ``from numpy import *``, which loads
numpy.testing and more (an eighth of a second, once a process)."""


@dataclass(frozen=True)
class _Claim:
    """lhs = rhs, said by ``step``; ``reference`` when rhs is the final result and lhs
    ``sympy.diff``."""

    step: Step
    lhs: sp.Expr
    rhs: sp.Expr
    reference: bool = False


def verify_step(step: Step, seed: int = 0) -> Verification:
    """Check every equation in ``step``'s tree (with activation expansions) and its result
    against ``sympy.diff``."""
    return _check(_step_claims(step), seed)


def _step_claims(step: Step) -> list[_Claim]:
    claims = [c for s in step.walk(expansions=True) for c in _claims(s)]
    claims.append(_Claim(step, _reference(step), step.result, reference=True))
    return claims


def _claims(step: Step) -> list[_Claim]:
    if step.rule is Rule.SIMPLIFY:
        chains = [step.forms, *step.uses]
        return [_Claim(step, a, b) for forms in chains for a, b in zip(forms, forms[1:])]
    return [_Claim(step, _reference(step), step.raw)]


def _reference(step: Step) -> sp.Expr:
    """d(expr)/d(var) by ``sympy.diff``, the activations written out first."""
    return _derivative(step.expr, step.var)


@functools.lru_cache(maxsize=1024)  # the root's is its step's left side and the reference
def _derivative(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    expr = witnessed(expr)
    if expr.has(Activation):
        expr = expr.replace(lambda e: isinstance(e, Activation), _definition)
    return sp.diff(expr, var)


@functools.lru_cache(maxsize=4096)
def _definition(activation: Activation) -> sp.Expr:
    """An activation's definition, built once: each sub-step's expression repeats the
    activations below it, and a Piecewise (leaky ReLU's) is slow to build."""
    return activation.definition()


def witnessed(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each unspecified function and derivative replaced by its witness:
    f(a) by W(a) = sin(a) + e^(a/k), f'(a) by W'(a), and so on."""
    return expr.replace(lambda e: isinstance(e, Unspecified), _witness) \
        if expr.has(Unspecified) else expr


WITNESS_VARIABLE = sp.Symbol("u", real=True)


def witness(name: str) -> sp.Expr:
    """The function of ``WITNESS_VARIABLE`` u that stands in for the unspecified function
    ``name`` in the checks: sin(a u) + e^(u/k), with a from 1 to 3 and k from 2 to 8 by its
    name, so that two functions of one loss are rarely given the same witness."""
    u, code = WITNESS_VARIABLE, zlib.crc32(name.encode())
    return sp.sin((code // 7 % 3 + 1) * u) + sp.exp(u / (code % 7 + 2))


def _witness(call: Unspecified) -> sp.Expr:
    derivative = sp.diff(witness(call.base), WITNESS_VARIABLE, call.order)
    return derivative.xreplace({WITNESS_VARIABLE: call.args[0]})


def _check(claims: Sequence[_Claim], seed: int) -> Verification:
    claims = [replace(c, lhs=witnessed(c.lhs), rhs=witnessed(c.rhs)) for c in claims]
    symbols = sorted({s for c in claims for s in (c.lhs.free_symbols | c.rhs.free_symbols)},
                     key=sp.default_sort_key)
    plain = {s: sp.Symbol(f"v{i}", real=True) for i, s in enumerate(symbols)}
    points = _points(len(symbols), seed)
    with sp.evaluate(False):  # renaming only: rebuilding each node evaluated is slow
        sides = [e.xreplace(plain) for c in claims for e in (c.lhs, c.rhs)]
    values = _evaluate(list(plain.values()), [_floated(e) for e in sides], points)
    failures, undefined = [], 0
    for i, claim in enumerate(claims):
        outcome = _compare(claim, values[2 * i], values[2 * i + 1], points, symbols)
        undefined += outcome is None
        if outcome:
            failures.append(outcome)
    references = sum(c.reference for c in claims)
    return Verification(len(claims) - references, references, points.shape[1], undefined,
                        tuple(failures))


def _floated(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each rational number beyond float64's range (10^600, or 10^600 / 3)
    written as a Float, so that numpy takes it for inf rather than raising OverflowError
    on the integer."""
    huge = {n: sp.Float(_float64(n)) for n in expr.atoms(sp.Rational)
            if max(abs(n.p), n.q).bit_length() > 1000}
    return expr.xreplace(huge) if huge else expr


def _points(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    both = rng.uniform(-2.0, 2.0, size=(count, POINTS))
    positive = rng.uniform(0.05, 2.0, size=(count, POINTS))
    return np.concatenate([both, positive], axis=1)


def _evaluate(symbols: list[sp.Symbol], sides: list[sp.Expr], points: np.ndarray) -> list:
    unique = list(dict.fromkeys(sides))  # a step's raw form is also its simplification's start
    function = sp.lambdify(symbols, unique, modules=MODULES, docstring_limit=0)
    with np.errstate(all="ignore"):
        out = function(*points)
    values = {e: np.broadcast_to(np.asarray(v, dtype=complex), points.shape[1:])
              for e, v in zip(unique, out)}
    return [values[e] for e in sides]


def _compare(claim: _Claim, lhs: np.ndarray, rhs: np.ndarray, points: np.ndarray,
             symbols: list[sp.Symbol]) -> str | None | bool:
    """A failure line, None when lhs is defined at no point, False when it holds."""
    defined = np.isfinite(lhs) & (np.abs(lhs.imag) < ATOL)
    if not defined.any():
        return None
    close = np.isclose(lhs, rhs, rtol=RTOL, atol=ATOL) & np.isfinite(rhs)
    undefined = 0
    for k in np.flatnonzero(defined & ~close):
        point = {s: sp.Float(points[i, k], 30) for i, s in enumerate(symbols)}
        agree = _agree_precisely(claim, point)
        if agree is False:
            return _failure(claim, point)
        undefined += agree is None
    return None if undefined == defined.sum() else False


def _agree_precisely(claim: _Claim, point: dict[sp.Symbol, sp.Float]) -> bool | None:
    """Both sides to 30 digits at the point taken exactly, so that what cancels there
    (x^(3/2) - sqrt(x^3)) gives 0 and not rounding error; None where lhs is undefined."""
    exact = {s: sp.Rational(v) for s, v in point.items()}
    try:
        lhs = _precise(claim.lhs.xreplace(exact).evalf(30))
    except (TypeError, ValueError):  # a function not defined off the real line, such as Heaviside
        return None
    if not mpmath.isfinite(lhs) or abs(lhs.imag) >= ATOL:
        return None
    try:
        rhs = _precise(claim.rhs.xreplace(exact).evalf(30))
    except (TypeError, ValueError):
        return False
    if not mpmath.isfinite(rhs):
        return False
    return bool(abs(lhs - rhs) <= ATOL + RTOL * abs(rhs))


def _precise(value: sp.Expr) -> mpmath.mpc:
    """An evaluated side as an mpmath number, at any magnitude (no float64 overflow)."""
    if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return mpmath.mpc(mpmath.nan)
    real, imaginary = value.as_real_imag()
    return mpmath.mpc(mpmath.mpf(real), mpmath.mpf(imaginary))


def _failure(claim: _Claim, point: dict[sp.Symbol, sp.Float]) -> str:
    at = ", ".join(f"{s} = {float(v):.4g}" for s, v in point.items()
                   if s in claim.lhs.free_symbols | claim.rhs.free_symbols)
    what = "result differs from sympy.diff" if claim.reference else \
        f"{claim.step.rule.label} step does not hold"
    return f"d/d{claim.step.var} {claim.step.expr}: {what}: {claim.lhs} != {claim.rhs} at {at}"


def verify(derivation: Derivation, seed: int = 0) -> Verification:
    """Check every local derivative of a derivation step by step, one factor of each kind
    (``kinds.factor_kinds``) standing for the factors its kind renames, and with values
    the worked numbers (``verify_numbers``); each unspecified function is checked through
    its witness, kept in ``Verification.witnesses``."""
    checked = verify_kinds(factor_kinds(derivation.factors), derivation.graph, seed)
    if derivation.worked is not None:
        checked = checked + verify_numbers(derivation, seed)
    names = derivation.graph.unspecified
    return replace(checked, witnesses=tuple((n, witness(n)) for n in names)) if names else checked


def verify_kinds(kinds: Sequence[Kind], graph: Graph, seed: int = 0) -> Verification:
    """Check each kind's representative: every equation of its steps, its result against
    ``sympy.diff``, and the factor's result (written with the forward pass's names, such as
    a (1 - a), each name put back as the call it names) against its steps' result. The
    counts are those of checking every factor (a kind's counts once per factor it stands
    for); ``kinds`` is how many were checked."""
    calls = {symbol: call for call, symbol in graph.activation_names.items()}
    total = Verification()
    for kind in kinds:
        factor = kind.representative
        claims = _step_claims(factor.step)
        inside = {s: c for s, c in calls.items() if c.free_symbols <= factor.expr.free_symbols}
        named = factor.result.xreplace(inside)
        if named != factor.step.result:
            claims.append(_Claim(factor.step, factor.step.result, named))
        one = _check(claims, seed)
        total = total + replace(one, equations=one.equations * len(kind.factors),
                                references=one.references * len(kind.factors),
                                undefined=one.undefined * len(kind.factors), kinds=1)
    return total


STEP, SHRINK, STEPS = 1e-2, 2.0, 16
"""The central differences' steps along a unit direction: ``STEP``, then each ``SHRINK``
times the last, ``STEPS`` of them (down to 3e-7), extrapolated to a step of 0 (Ridders)."""

FD_RTOL, FD_ATOL = 1e-5, 1e-10
"""A directional derivative's tolerance, relative to its gradient's length and the loss,
besides the extrapolation's own error estimate."""


def verify_numbers(derivation: Derivation, seed: int = 0) -> Verification:
    """The worked numbers against float64 arithmetic that shares none of their code: every
    forward quantity computed again by numpy from the definitions, and each group's
    gradient (W1, b1, ...) along a random unit direction u against central differences of
    that loss, (L(p + h u) - L(p - h u)) / 2h at ever smaller steps h, extrapolated to h = 0
    (``_ridders``: a step wide next to a pole, log(p) at p = 0.001, is not trusted).
    ``numbers`` counts the values compared; a difference across a kink (ReLU at 0), a loss
    undefined at every step, or a quantity that float64 cannot hold (its worked value or
    numpy's beyond float64's range), is ``undefined``, not compared."""
    graph, worked = derivation.graph, derivation.worked
    wanted = set(derivation.parameters)
    groups = [[s for s in g.symbols if s in wanted] for g in graph.groups]
    groups = [g for g in groups if g]
    rng = np.random.default_rng(seed)
    directions = [dict(zip(g, _unit(rng, len(g)))) for g in groups]
    leaves = [s for g in graph.groups for s in g.symbols]
    steps = STEP / SHRINK ** np.arange(STEPS)
    lanes = {s: np.full(1 + 2 * STEPS * len(groups), float(worked.given[s]))
             for s in dict.fromkeys(leaves)}
    for i, direction in enumerate(directions):
        start = 1 + 2 * STEPS * i  # STEPS lanes ahead, then STEPS behind
        for s, u in direction.items():
            lanes[s][start:start + 2 * STEPS] += np.concatenate([steps, -steps]) * u
    forward = _float_forward(graph, lanes)
    # beyond float64 (e^800, or e^710 * 10^-10 by way of an overflowing e^710), no check
    representable = {s: v for s, v in forward.items()
                     if np.isfinite(v[0]) and np.isfinite(float(worked.forward[s]))}
    failures = [f"{s} = {float(worked.forward[s])!r} but float64 gives {v[0]!r}"
                for s, v in representable.items()
                if not np.isclose(v[0], float(worked.forward[s]), rtol=RTOL, atol=ATOL)]
    loss, smooth = forward[graph.loss], _smooth(graph)
    undefined = len(forward) - len(representable)
    for i, direction in enumerate(directions):
        start = 1 + 2 * STEPS * i
        with np.errstate(all="ignore"):
            differences = (loss[start:start + STEPS] - loss[start + STEPS:start + 2 * STEPS]) / (2 * steps)
        outcome = _directional(worked, direction, differences, loss[0])
        if outcome and not smooth:  # perhaps across a kink
            outcome = None
        undefined += outcome is None
        if outcome:
            failures.append(outcome)
    return Verification(undefined=undefined, failures=tuple(failures),
                        numbers=len(representable) + len(directions))


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    u = rng.standard_normal(n)
    return u / np.linalg.norm(u)


def _directional(worked, direction: dict[sp.Symbol, float], differences: np.ndarray,
                 loss: float) -> str | None | bool:
    """A failure line, None when no step's difference is a number, False when the gradient
    along ``direction`` matches the central differences extrapolated to a step of 0, within
    the tolerance and the extrapolation's error estimate."""
    finite = np.isfinite(differences)
    if not (finite[-1] and np.isfinite(loss)):
        return None
    # the steps from the widest one from which every narrower difference is a number
    first = STEPS - int(np.argmin(finite[::-1])) if not finite.all() else 0
    gradient = np.array([float(worked.gradients[s]) for s in direction])
    with np.errstate(all="ignore"):
        exact = float(gradient @ np.array(list(direction.values())))
        largest = float(np.max(np.abs(gradient)))  # |g| as max |g_i| |g / max|, not squaring e^700
        length = largest * float(np.linalg.norm(gradient / largest)) if largest else 0.0
        if not (np.isfinite(exact) and np.isfinite(length)):
            return None  # a gradient beyond float64's range
    difference, error = _ridders(differences[first:])
    tolerance = FD_RTOL * length + FD_ATOL * (1 + abs(loss))
    if abs(difference - exact) <= tolerance + 2 * error:
        return False
    name = next(iter(direction))
    return (f"the gradient along a random direction of {name}'s group is {exact!r}, but "
            f"central differences of the loss give {difference!r}")


def _ridders(differences: np.ndarray) -> tuple[float, float]:
    """The central differences at steps shrinking by ``SHRINK`` extrapolated to a step of
    0 (Ridders' method: Richardson's tableau, each column cancelling one more power of h^2)
    and the estimate's error, taken where that error is smallest; the tableau stops where
    it grows (rounding error overtaking the step's)."""
    factor = SHRINK ** 2
    best, error = float(differences[0]), float("inf")
    previous = [float(differences[0])]
    for i in range(1, len(differences)):
        row, scale = [float(differences[i])], factor
        for j in range(1, i + 1):
            row.append((row[j - 1] * scale - previous[j - 1]) / (scale - 1))
            scale *= factor
            estimate = max(abs(row[j] - row[j - 1]), abs(row[j] - previous[j - 1]))
            if estimate <= error:
                best, error = row[j], estimate
        if abs(row[i] - previous[i - 1]) >= 2 * error:
            break
        previous = row
    return best, error if len(differences) > 1 else 0.0  # one step: no estimate


NONSMOOTH = (relu, leaky_relu, sp.Abs, sp.Piecewise, sp.Heaviside, sp.Max, sp.Min, sp.sign)
"""The functions with kinks, across which a central difference is no derivative."""


def _smooth(graph: Graph) -> bool:
    return not any(d.expr.has(*NONSMOOTH) for d in graph.definitions)


def _float_forward(graph: Graph, lanes: dict[sp.Symbol, np.ndarray]) -> dict[sp.Symbol, np.ndarray]:
    """Every defined quantity in float64 at each lane of the leaves' values, the definitions
    evaluated in forward order by numpy."""
    env: dict[sp.Expr, np.ndarray] = dict(lanes)
    with np.errstate(all="ignore"):
        for d in graph.definitions:
            env[d.symbol] = np.broadcast_to(_float(d.expr, env), next(iter(lanes.values())).shape)
    return {d.symbol: env[d.symbol] for d in graph.definitions}


def _float(expr: sp.Expr, env: dict[sp.Expr, np.ndarray]) -> np.ndarray:
    """Sums, products and powers by numpy; a function by its numpy form (``lambdify``'s,
    made once per function and number of arguments), anything else by ``lambdify`` of it."""
    if expr in env:
        return env[expr]
    if expr.is_Number:
        return np.asarray(_float64(expr))
    if isinstance(expr, (sp.Add, sp.Mul)):
        values = [_float(a, env) for a in expr.args]
        return functools.reduce(np.add if isinstance(expr, sp.Add) else np.multiply, values)
    if isinstance(expr, sp.Pow):
        return np.power(_float(expr.base, env), _float(expr.exp, env))
    function = _numpy_function(expr.func, len(expr.args)) if isinstance(expr, sp.Function) else None
    if function is not None:
        return function(*(_float(a, env) for a in expr.args))
    symbols = sorted(expr.free_symbols, key=sp.default_sort_key)
    return sp.lambdify(symbols, expr, modules=MODULES)(*(env[s] for s in symbols))


def _float64(number: sp.Expr) -> complex | float:
    """A SymPy number in float64: one beyond its range is an infinity (``float`` of a huge
    integer raises OverflowError)."""
    try:
        return complex(number) if not number.is_real else float(number)
    except OverflowError:
        return float("inf") if number > 0 else float("-inf")


@functools.lru_cache(maxsize=256)
def _numpy_function(func: type, count: int) -> Callable | None:
    """``func`` of ``count`` numpy arguments; None where it takes no symbols for them (the
    softmax's unit number, a Piecewise's conditions)."""
    arguments = sp.symbols(f"u0:{count}", real=True)
    try:
        return sp.lambdify(arguments, func(*arguments), modules=MODULES)
    except (TypeError, ValueError, AttributeError):
        return None
