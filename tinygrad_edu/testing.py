"""Hypothesis strategies for property tests of your own ops, and assert_gradients_match.

    @given(tensors(positive=True))
    def test_my_log_gradient(x):
        assert_gradients_match(MyLog.apply, x)

This is the only module of tinygrad_edu that imports Hypothesis (a test
dependency), so the engine itself runs without it. Shapes are small by default:
a gradient check costs a backward per output element and two forward runs per
input element.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .errors import GradcheckError
from .gradcheck import jacobians, worst_mismatch
from .tensor import Tensor


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Array shapes such as (), (3,) or (2, 1, 4)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(shape, min_dims=0, max_dims=None, min_side=1, max_side=4):
    """Shapes that broadcast with `shape` under NumPy's rules: the other operand of a binary op."""
    return hnp.broadcastable_shapes(shape, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                    max_side=max_side)


def tensors(shape=None, dtype=np.float32, elements=None, requires_grad=True, *,
            bound=5.0, positive=False, min_magnitude=None, unique=False, name=None):
    """Tensors of `shape` (a tuple, or a strategy of them; default `shapes()`) and `dtype`.

    Elements are finite floats in [-bound, bound], so exp, squares and products stay
    far from overflow. `min_magnitude` keeps every |x| at least that big, away from
    the kinks of relu and abs and from the pole of 1/x. `positive=True` keeps
    elements in [min_magnitude, bound] with min_magnitude 0.1 unless given, so log,
    sqrt and 1/x are smooth there and x - eps stays in their domain. `unique=True`
    makes the elements distinct, so max has no ties. `elements`, a strategy of
    floats, replaces all of these.
    """
    if elements is None:
        elements = _floats(np.dtype(dtype), bound, positive, min_magnitude)
    return hnp.arrays(dtype, shapes() if shape is None else shape, elements=elements, unique=unique).map(
        lambda array: Tensor(array, requires_grad=requires_grad, name=name))


def _floats(dtype, bound, positive, min_magnitude):
    if min_magnitude is None:
        min_magnitude = 0.1 if positive else 0.0
    if not 0 <= min_magnitude < bound:
        raise ValueError(f"tensors: need 0 <= min_magnitude < bound, got min_magnitude={min_magnitude}, bound={bound}")
    # Hypothesis wants bounds the dtype holds exactly: round them inwards.
    low, high = _representable(min_magnitude, dtype, bound), _representable(bound, dtype, 0.0)
    width = dtype.itemsize * 8
    if min_magnitude == 0 and not positive:
        return st.floats(-high, high, width=width)
    magnitudes = st.floats(low, high, width=width, exclude_min=min_magnitude == 0)
    return magnitudes if positive else magnitudes | magnitudes.map(lambda x: -x)


def _representable(value, dtype, toward):
    """The float nearest `value`, held exactly by dtype, on the side of `toward`."""
    rounded = dtype.type(value)
    if (float(rounded) - value) * (toward - value) < 0:  # rounding went away from `toward`
        rounded = np.nextafter(rounded, dtype.type(toward))
    return float(rounded)


def assert_gradients_match(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Fail the calling test unless every gradient of fn(*inputs) matches central
    differences (as gradcheck checks them), with a table of analytic against numeric
    values: all entries when there are few, else the disagreeing ones first."""
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    found = jacobians(fn, inputs, eps, caller="assert_gradients_match")
    mismatch = worst_mismatch(found, atol, rtol)
    if mismatch is not None:
        raise mismatch.error(f"gradients of fn disagree with central differences in {mismatch.count} of "
                             f"{mismatch.total} entries.\n✗ marks |analytic - numeric| > atol + rtol·|numeric| "
                             f"(atol {atol:g}, rtol {rtol:g}); kink marks a point where a step up and a step down "
                             f"give different slopes, so fn has no derivative there.\n" + _table(found, atol, rtol))


def _table(found, atol, rtol, limit=30):
    """One row per Jacobian entry: disagreeing rows first, entries that are 0 both ways left out."""
    several_outputs = len({j.output_label for j in found}) > 1
    show_output = several_outputs or any(j.output_shape for j in found)
    rows, zeros = [], 0
    for j in found:
        wrong, kinks = j.wrong(atol, rtol), j.kinks(atol, rtol)
        split = len(j.output_shape)
        for index in np.ndindex(j.analytic.shape):
            analytic, numeric = j.analytic[index], j.numeric[index]
            if analytic == 0 and numeric == 0:
                zeros += 1
                continue
            output = f"{j.output_label} {index[:split]}" if several_outputs else str(index[:split])
            rows.append(("✗" if wrong[index] else "",) + ((output,) if show_output else ()) +
                        (j.input_label(), str(index[split:]), f"{analytic:.8g}", f"{numeric:.8g}",
                         f"{abs(analytic - numeric):.3g}", "kink" if kinks[index] else ""))
    rows.sort(key=lambda row: row[0] != "✗")
    header = ("",) + (("output",) if show_output else ()) + ("input", "index", "analytic", "numeric",
                                                              "|difference|", "")
    table = [header] + rows[:limit]
    widths = [max(len(row[c]) for row in table) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]
    if len(rows) > limit:
        hidden_wrong = sum(row[0] == "✗" for row in rows[limit:])
        lines.append(f"... and {len(rows) - limit} more rows, {hidden_wrong} of them ✗")
    if zeros:
        lines.append(f"(not shown: {zeros} where both are 0)")
    return "\n".join(lines)
