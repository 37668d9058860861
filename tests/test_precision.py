"""Exact numbers that stay exact: worked numbers against mpmath at 50 digits, computed
straight from the mathematical formula (a stable one: sech^2 for tanh', e^-z / (1 + e^-z)^2
for sigmoid'), never through symgrad; values beyond float64's range in JSON and documents;
magnitudes beyond the worked range refused; max and min at a tie."""

from __future__ import annotations

import json
import random
import re

import mpmath
import pytest
import sympy as sp

from symgrad import derive, parse_spec, render
from symgrad.cli.main import main
from symgrad.errors import LimitError, ValuesError
from symgrad.render.latex import num

mpmath.mp.dps = 50


def _sigmoid_slope(z):
    e = mpmath.exp(-abs(mpmath.mpf(z)))
    return e / (1 + e) ** 2


def by_name(values) -> dict:
    return {s.name: v for s, v in values.items()}


def _relative(value, reference) -> mpmath.mpf:
    return abs(mpmath.mpf(sp.Float(value, 30)._mpf_) - reference) / abs(reference)


def _shown(reference: mpmath.mpf) -> str:
    """The 6 significant digits a document shows, from the mpmath reference."""
    mantissa, exponent = mpmath.nstr(reference, 6, min_fixed=1, max_fixed=0).split("e")
    return rf"{mantissa.rstrip('0').rstrip('.')} \times 10^{{{int(exponent)}}}"


def strict_json(text: str):
    """``json.loads`` that fails on NaN and Infinity, which are not JSON."""
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


SLOPES = {  # (expression, at, the gradient by mpmath at 50 digits)
    "tanh'(40)": ("tanh(w)", {"w": 40}, lambda: mpmath.sech(40) ** 2),
    "tanh'(30)": ("tanh(w)", {"w": 30}, lambda: mpmath.sech(30) ** 2),
    "tanh'(1000)": ("tanh(w)", {"w": 1000}, lambda: mpmath.sech(1000) ** 2),
    "sigmoid'(100)": ("sigmoid(w)", {"w": 100}, lambda: _sigmoid_slope(100)),
    "sigmoid'(-100)": ("sigmoid(w)", {"w": -100}, lambda: _sigmoid_slope(-100)),
    "-log sigmoid(100)": ("-log(sigmoid(w))", {"w": 100},
                          lambda: -mpmath.exp(-100) / (1 + mpmath.exp(-100))),
}


@pytest.mark.parametrize("name", SLOPES)
def test_saturated_slopes_keep_their_digits(name):
    """Every kept digit is right (relative error below 1e-25 of the 30 kept), where 30
    digits of tanh(40) hold none of 1 - tanh(40)^2 = 7.2e-35."""
    expr, at, reference = SLOPES[name]
    d = derive(expr, "w", at=at)
    (gradient,) = d.worked.gradients.values()
    assert _relative(gradient, reference()) < 1e-25


def test_tanh_slope_at_40_shows_six_digits_in_the_document_and_json():
    reference = mpmath.sech(40) ** 2
    d = derive("tanh(2*w)", at={"w": 20})  # the tanh of z = 2 w: dL/dw = 2 sech^2(40)
    document = render(d, "markdown")
    assert _shown(reference) == r"7.21941 \times 10^{-35}"
    assert f"= {_shown(reference)}" in document
    data = strict_json(render(d, "json"))
    assert data["gradients"]["w"] == pytest.approx(float(2 * reference), rel=1e-15)
    assert "notes" not in data


def _softmax(output: int, z1: int, z2: int):
    spec = parse_spec(f"softmax:\n  inputs: [z1, z2]\n  output: {output}\nwrt: [z1, z2]\n"
                      f"at: {{z1: {z1}, z2: {z2}}}\n")
    return derive(spec.graph, spec.wrt, at=spec.at)


def test_softmax_probability_far_below_one_is_kept():
    """softmax_2 at logits (0, -324) is e^-324 / (1 + e^-324), about 1.9e-141 of a total of
    1: kept to 30 digits, not 0, and its slope p2 (1 - p2) too."""
    d = _softmax(2, 0, -324)
    p2 = mpmath.exp(-324) / (1 + mpmath.exp(-324))
    assert _relative(d.worked.loss, p2) < 1e-25
    assert _relative(by_name(d.worked.gradients)["z2"], p2 / (1 + mpmath.exp(-324))) < 1e-25


def test_softmax_slope_at_extreme_logits_is_not_lost_to_cancellation():
    """softmax_1 at logits (400, -400) is 1 - 1.3e-348; its slope p1 (1 - p1) =
    e^-800 / (1 + e^-800)^2, all of whose digits 1 - p1 would lose at 30 or 50 digits."""
    d = _softmax(1, 400, -400)
    slope = mpmath.exp(-800) / (1 + mpmath.exp(-800)) ** 2
    assert _relative(by_name(d.worked.gradients)["z1"], slope) < 1e-25
    assert _relative(by_name(d.worked.gradients)["z2"], -slope) < 1e-25


@pytest.mark.parametrize("expr, at", [("(w - 1)**2", {"w": 1}), ("w*x - 3", {"w": 0.5, "x": 0}),
                                      ("relu(w*x)", {"w": 2, "x": -1})])
def test_a_true_zero_stays_zero(expr, at):
    d = derive(expr, "w", at=at)
    value = next(iter(d.worked.gradients.values()))
    assert value.is_zero
    data = strict_json(render(d, "json"))
    assert data["gradients"]["w"] == 0.0 and "notes" not in data
    assert num(value) == "0"


def test_json_of_a_loss_beyond_float64_is_json_and_says_so(capsys):
    code = main(["derive", "--expr", "exp(w)", "--wrt", "w", "--at", "w=800", "--format", "json"])
    out, _ = capsys.readouterr()
    assert code == 0
    data = strict_json(out)
    assert data["loss"] is None and data["gradients"]["w"] is None
    reference = mpmath.nstr(mpmath.exp(800), 6, min_fixed=1, max_fixed=0)
    assert {"path": "gradients.w", "value": reference, "note": "overflows float64"} in data["notes"]
    assert {"path": "loss", "value": reference, "note": "overflows float64"} in data["notes"]


def test_json_of_an_underflowing_value_is_zero_with_a_note():
    data = strict_json(render(derive("exp(w)", "w", at={"w": -800}), "json"))
    assert data["gradients"]["w"] == 0.0
    reference = mpmath.nstr(mpmath.exp(-800), 6, min_fixed=1, max_fixed=0)
    assert {"path": "gradients.w", "value": reference, "note": "underflows float64 to 0.0"} \
        in data["notes"]


def test_a_huge_loss_gives_a_document_with_its_value_and_a_float64_note():
    """exp(exp(10)) e^10 = 2.07e9570: worked and checked, the document shows it and says
    float64 cannot hold it."""
    d = derive("exp(exp(w))", "w", at={"w": 10}, verify=True)
    reference = mpmath.exp(mpmath.exp(10)) * mpmath.exp(10)
    assert _relative(next(iter(d.worked.gradients.values())), reference) < 1e-25
    for fmt in ("markdown", "latex", "json"):
        text = render(d, fmt)
        if fmt == "json":
            assert strict_json(text)["gradients"]["w"] is None
        else:
            assert _shown(reference) in text and "float64" in text and "cannot hold" in text


def test_a_tiny_gradient_is_not_called_zero():
    text = render(derive("exp(w)", "w", at={"w": -800}), "markdown")
    assert "The gradient is positive" in text and "flat point" not in text


def test_a_function_of_a_number_beyond_the_worked_range_is_refused():
    """e^(e^(e^20)): the outer exp's argument is about 10^(2.1 x 10^8), whose exp would
    not end."""
    with pytest.raises(LimitError, match="beyond 10\\^1000"):
        derive("exp(exp(exp(w)))", "w", at={"w": 20})


def _exponent(text: str) -> str:
    """``10^{-4.40475 \\times 10^{303}}`` from log10 of a value, by mpmath's own printing."""
    mantissa, exponent = mpmath.nstr(text, 6, min_fixed=1, max_fixed=0).split("e")
    return rf"10^{{{mantissa.rstrip('0').rstrip('.')} \times 10^{{{int(exponent)}}}}}"


def test_a_loss_after_the_step_past_every_exponent_range_is_written():
    """e^w at w = 700 with learning rate 1: w becomes 700 - e^700, and the loss
    e^(700 - e^700), about 10^(-4.4 x 10^303), is written as a power of ten."""
    d = derive("exp(w)", "w", at={"w": 700}, learning_rate=1)
    log10 = (700 - mpmath.exp(700)) / mpmath.log(10)
    text = render(d, "markdown")
    assert f"After the step the loss is ${_exponent(log10)}$" in text
    assert strict_json(render(d, "json"))["updated"]["w"] == float(700 - mpmath.exp(700))


@pytest.mark.parametrize("expr, at, reference", [
    ("exp(exp(w))", {"w": 20}, lambda: mpmath.exp(mpmath.exp(20)) * mpmath.exp(20)),
    ("exp(exp(exp(w)))", {"w": 3},
     lambda: mpmath.exp(mpmath.exp(mpmath.exp(3)) + mpmath.exp(3) + 3))])
def test_values_far_beyond_float64_are_worked(expr, at, reference):
    """e^(e^20) e^20, about 10^(2.1 x 10^8), and a gradient of about 10^(2.3 x 10^8):
    worked to 25 digits, written in full, and in JSON null with a note."""
    d = derive(expr, "w", at=at, verify=True)
    value = reference()
    assert _relative(next(iter(d.worked.gradients.values())), value) < 1e-25
    assert _shown(value) in render(d, "markdown")
    data = strict_json(render(d, "json"))
    assert data["gradients"]["w"] is None
    assert any(n["path"] == "gradients.w" and n["note"] == "overflows float64" for n in data["notes"])


@pytest.mark.parametrize("expr, at, quantity", [
    ("max(v**2, log(w))", {"w": -0.5, "v": -0.5}, "log(w) is not a real number at w = -0.5"),
    ("sqrt(w) + w", {"w": -4}, "is not a real number at w = -4"),
])
def test_a_value_that_is_not_real_is_refused_naming_it(expr, at, quantity):
    with pytest.raises(ValuesError, match=re.escape(quantity)):
        derive(expr, sorted(at), at=at)


def test_a_cross_entropy_at_a_saturated_sigmoid_keeps_its_digits():
    """1 - sigmoid(150) cancels to 0 at 30 digits; the loss is log(1 + e^-150) = 7.2e-66
    (y = 1: the (1 - y) log(1 - sigmoid) term is exactly 0) and dL/dw = x (sigmoid - y)."""
    d = derive("-y*log(sigmoid(w*x)) - (1 - y)*log(1 - sigmoid(w*x))", "w",
               at={"w": 100, "x": 1.5, "y": 1})
    e = mpmath.exp(-150)
    assert _relative(d.worked.loss, mpmath.log1p(e)) < 1e-25
    assert _relative(by_name(d.worked.gradients)["w"], -1.5 * e / (1 + e)) < 1e-25


@pytest.mark.parametrize("value, text", [
    (sp.Float("1e400"), r"1 \times 10^{400}"), (sp.Float("-2.5e-400"), r"-2.5 \times 10^{-400}"),
    (10**400 + 1, r"1 \times 10^{400}"), (sp.Float(mpmath.mpf("1.5e999999")), r"1.5 \times 10^{999999}"),
    (sp.Float(mpmath.mpf("-1.5e-999999")), r"-1.5 \times 10^{-999999}"),
    (sp.oo, r"\infty"), (-sp.oo, r"-\infty"), (sp.nan, r"\text{NaN}"), (float("inf"), r"\infty")])
def test_numbers_of_any_size_are_written(value, text):
    """No decimal.InvalidOperation beyond Decimal's default exponent range or at infinity."""
    assert num(value) == text


@pytest.mark.parametrize("expr, at", [("10**154*w*10**155", {"w": 1}), ("10**154*w*10**155", None),
                                      ("exp(w)*x", {"w": 710, "x": 1e-10}),
                                      ("w/3*10**350 + w**2", {"w": 2})])
def test_verification_beyond_float64_does_not_overflow(expr, at):
    """Step equations with numbers float64 cannot hold, and forward values whose float64
    working overflows on the way (e^710 * 1e-10), are skipped or checked, never raised."""
    d = derive(expr, "w", at=at, verify=True)
    assert d.verification.passed


def _at_tie(expr: str, names: list[str], tie: float):
    d = derive(expr, names, at={n: tie for n in names})
    return [float(by_name(d.worked.gradients)[n]) for n in names]


@pytest.mark.parametrize("function", ["max", "min"])
@pytest.mark.parametrize("names", [["w", "x"], ["x", "w"], ["w", "x", "b"]])
def test_a_tie_of_max_or_min_gives_a_subgradient(function, names):
    """At w = x (= b) the gradient is a subgradient: for max (convex), max(y) >= max(t) +
    g . (y - t) at every y; for min (concave) the reverse; the parts are >= 0 and sum to 1."""
    call = f"{function}({names[0]}, {function}({', '.join(names[1:])}))" if len(names) == 3 \
        else f"{function}({', '.join(names)})"
    g = _at_tie(call, names, 0.5)
    assert all(part >= 0 for part in g) and sum(g) == pytest.approx(1)
    extremum = max if function == "max" else min
    rng = random.Random(3)
    for _ in range(200):
        y = [rng.uniform(-2, 2) for _ in names]
        linear = extremum([0.5] * len(names)) + sum(gi * (yi - 0.5) for gi, yi in zip(g, y))
        if function == "max":
            assert extremum(y) >= linear - 1e-12
        else:
            assert extremum(y) <= linear + 1e-12


def test_the_tie_convention_is_stated():
    d = derive("max(w*x, b)", ["w", "x", "b"], at={"w": 0.1, "x": 3, "b": 0.3})
    text = render(d, "markdown")
    assert "first argument" in text and "subgradient" in text
    assert [float(by_name(d.worked.gradients)[n]) for n in "wxb"] == [0.0, 0.0, 1.0]


LOG_LOSS = "-y*log(p) - (1 - y)*log(1 - p)"


@pytest.mark.parametrize("at", [{"p": 0.001, "y": 1}, {"p": 0.999, "y": 0}, {"p": 1e-5, "y": 0.3}])
def test_central_differences_next_to_a_pole_pass_a_right_gradient(at):
    """dL/dp = -y/p + (1 - y)/(1 - p), 1000 at p = 0.001: a step of 1e-5 there gave
    1000.033 and failed a right derivation."""
    d = derive(LOG_LOSS, "p", at=at, verify=True)
    assert d.verification.passed, d.verification.failures
    p, y = mpmath.mpf(str(at["p"])), mpmath.mpf(str(at["y"]))  # as given, exactly
    assert _relative(by_name(d.worked.gradients)["p"], -y / p + (1 - y) / (1 - p)) < 1e-25


@pytest.mark.parametrize("factor", [1 + 1e-3, 1 - 1e-4, 2, -1])
@pytest.mark.parametrize("expr, at", [(LOG_LOSS, {"p": 0.001, "y": 1}), ("tanh(w)*w", {"w": 0.7}),
                                      ("exp(w)", {"w": 700}), ("w**2 + x", {"w": 1e6, "x": 1})])
def test_central_differences_still_fail_a_wrong_gradient(expr, at, factor):
    """The extrapolated central differences, with their error estimate, are no looser than
    the check of one step: a gradient off by 1e-4 of itself fails."""
    from dataclasses import replace
    from symgrad.calculus.verify import verify_numbers
    d = derive(expr, sorted(at)[:1], at=at)
    assert verify_numbers(d).passed
    wrong = {p: g * sp.Float(factor) for p, g in d.worked.gradients.items()}
    failed = verify_numbers(replace(d, worked=replace(d.worked, gradients=wrong)))
    assert not failed.passed and "central differences" in failed.failures[0]


def test_a_value_past_every_exponent_range_in_json_and_the_document():
    """e^w at w = -10^304: about 10^(-4.3 x 10^303), underflowing float64 to 0.0, its note
    and the document's number a power of ten whose exponent is rounded."""
    d = derive("exp(w)", "w", at={"w": -1e304})
    log10 = -mpmath.mpf(10) ** 304 / mpmath.log(10)
    data = strict_json(render(d, "json"))
    text = f"10^({mpmath.nstr(log10, 6, min_fixed=1, max_fixed=0)})"
    assert data["loss"] == 0.0
    assert {"path": "loss", "value": text, "note": "underflows float64 to 0.0"} in data["notes"]
    assert f"L = {_exponent(log10)}$" in render(d, "markdown")


@pytest.mark.parametrize("w", [-120, -1000, -3000])
def test_a_function_of_a_sum_keeps_the_digits_of_its_smallest_term(w):
    """log(1 + e^w): the sum 1 + e^-1000 at 50 digits is 1.0, whose log is 0; the loss is
    log1p(e^w) (mpmath), and so is the loss with a huge learning rate (two workings, one
    exact and one not, compared)."""
    d = derive("log(1 + exp(w))", "w", at={"w": w}, learning_rate=1e308)
    assert _relative(d.worked.loss, mpmath.log1p(mpmath.exp(w))) < 1e-25


def test_numbers_whose_exponent_passes_a_floats_range_are_written_not_a_crash():
    # softplus(w x + b) at w = b = 1e308, x = -3: exp(-2e308) has a binary exponent of
    # about -3e308, which no float can hold
    d = derive("softplus(w*x + b)**2", wrt="all", at={"b": 1e308, "x": -3.0, "w": 1e308},
               learning_rate=0.5)
    for fmt in ("html", "latex", "json", "notebook"):
        assert render(d, fmt)


@pytest.mark.parametrize("where", ["spec", "command line", "api"])
def test_a_given_value_a_double_cannot_hold_is_read_exactly(tmp_path, where):
    out = tmp_path / "doc.json"
    if where == "api":
        d = derive("w*x", "w", at={"w": "1.5e-350", "x": 2})
        assert abs(d.worked.loss / sp.Rational(3, 10**350) - 1) < 1e-25  # not 0: 1.5e-350 * 2
        return
    spec = tmp_path / "spec.yaml"
    spec.write_text("expression: w*x\nwrt: w\nat: {w: 1.5e-350, x: 2}\n")
    argv = ["derive", str(spec), "-o", str(out)]
    if where == "command line":
        argv += ["--at", "w=1.5e-350"]
        spec.write_text("expression: w*x\nwrt: w\nat: {w: 0.5, x: 2}\n")
    assert main(argv) == 0
    document = json.loads(out.read_text())
    assert document["loss"] == 0.0  # 3e-350 underflows float64 to 0.0, and the notes say so
    assert {"path": "loss", "value": "3.0e-350", "note": "underflows float64 to 0.0"} in \
        document["notes"]
