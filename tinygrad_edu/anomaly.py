"""detect_anomaly(): stop at the first op that makes NaN or Inf, and say which line made the op.

The engine calls the installed checker from Function.apply and after each op's
backward only while `_state.anomaly` is set, so a normal run pays one attribute
test per op and records no stack.
"""
import contextlib
import linecache
import os
import sys

import numpy as np

from .errors import AnomalyError
from .gradcheck import _at
from .tensor import _state

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_line():
    """'file:line in function: code' of the innermost caller outside tinygrad_edu."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    code = frame.f_code
    source = linecache.getline(code.co_filename, frame.f_lineno).strip()
    return f"{code.co_filename}:{frame.f_lineno} in {code.co_name}: {source}"


def _kinds(array):
    """Which of 'nan' and 'inf' an array holds."""
    array = np.asarray(array)
    if array.dtype.kind not in "fc" or np.isfinite(array).all():
        return set()
    return {kind for kind, test in (("nan", np.isnan), ("inf", np.isinf)) if test(array).any()}


def _first_bad(array, kinds):
    """Index and value of the first element of one of these kinds."""
    array = np.asarray(array)
    bad = (np.isnan(array) if "nan" in kinds else False) | (np.isinf(array) if "inf" in kinds else False)
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return index, array[index]


def _summary(x):
    """'shape (3,) in [0, 2]': enough to see a log of 0 or of a negative number."""
    data = np.asarray(x.data)
    if data.size == 0 or np.isnan(data).all():
        return f"shape {data.shape}" + (" all NaN" if data.size else "")
    text = f"shape {data.shape} in [{np.nanmin(data):.4g}, {np.nanmax(data):.4g}]"
    return text + " with NaN" if np.isnan(data).any() else text


def _inputs_text(inputs):
    return "inputs: " + "; ".join(_summary(x) for x in inputs) if len(inputs) != 1 else f"input: {_summary(inputs[0])}"


class _Checker:
    """What the engine calls while anomaly mode is on."""

    def __init__(self, check_nan):
        self.check_nan = check_nan

    def check_forward(self, ctx, inputs, out):
        ctx.origin = _user_line()
        if not self.check_nan:
            return
        # Blame only an op that makes a kind its inputs lack: inf + 1 passes a leaf's inf along.
        new = _kinds(out.data) - set().union(*[_kinds(x.data) for x in inputs])
        if new:
            index, value = _first_bad(out.data, new)
            raise AnomalyError(f"{ctx.name} produced {value} in forward{_at(index)} "
                               f"({_inputs_text(inputs)}).\n  The op was made at {ctx.origin}")

    def check_backward(self, ctx, input_grads):
        if not self.check_nan:
            return
        for position, g in enumerate(input_grads):
            kinds = set() if g is None else _kinds(g)
            if kinds:
                index, value = _first_bad(g, kinds)
                origin = getattr(ctx, "origin", None) or "a line run before detect_anomaly() was on"
                raise AnomalyError(f"{ctx.name}.backward produced {value} in the gradient for input {position}"
                                   f"{_at(index)} ({_inputs_text(ctx.inputs)}).\n  The op was made at {origin}")


class detect_anomaly:
    """Context manager: the first NaN or Inf made by an op, forward or backward, raises
    AnomalyError naming the op, its inputs' shapes and the line of user code that made it.

    With check_nan=False it only records that line on each op (as `op.origin`), for
    check_graph's reports. Like no_grad, it applies to the current thread."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._previous = _state.anomaly
        _state.anomaly = _Checker(self.check_nan)
        # The checker names the op behind each NaN and Inf, so NumPy's RuntimeWarning would only come first.
        self._numpy_warnings = np.errstate(all="ignore") if self.check_nan else contextlib.nullcontext()
        self._numpy_warnings.__enter__()

    def __exit__(self, *exc):
        self._numpy_warnings.__exit__(*exc)
        _state.anomaly = self._previous
