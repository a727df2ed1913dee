"""detect_anomaly(): stop at the first op that makes NaN or Inf, and say which line made the op.

It is an observer (see tinygrad_edu.observe): the engine tells it of every op's
forward and backward while it is on, and a normal run pays nothing for it.
"""
import contextlib
import threading
import weakref

import numpy as np

from .context import observe, user_line
from .errors import AnomalyError

# The line of user code that made each op recorded under detect_anomaly(), for error
# messages and check_graph's reports; an entry goes when its op goes.
origins = weakref.WeakKeyDictionary()
_paused = threading.local()


class paused:
    """Context manager: no AnomalyError in this thread inside it (check_graph steps inputs
    off an op's domain on purpose)."""

    def __enter__(self):
        self._previous = getattr(_paused, "on", False)
        _paused.on = True

    def __exit__(self, *exc):
        _paused.on = self._previous


def at_index(index):
    """' at index (1, 2)' for messages; nothing for a 0-d value."""
    return f" at index {index}" if index else ""


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
    """The observer detect_anomaly installs."""

    def __init__(self, check_nan):
        self.check_nan = check_nan

    def forward(self, op, out):
        origins[op] = user_line()
        if not self.check_nan or getattr(_paused, "on", False):
            return
        inputs = op.inputs
        # Blame only an op that makes a kind its inputs lack: inf + 1 passes a leaf's inf along.
        new = _kinds(out.data) - set().union(*[_kinds(x.data) for x in inputs])
        if new:
            index, value = _first_bad(out.data, new)
            raise AnomalyError(f"{op.name} produced {value} in forward{at_index(index)} "
                               f"({_inputs_text(inputs)}).\n  The op was made at {origins[op]}")

    def backward(self, op, out, grad_output, input_grads):
        if not self.check_nan or getattr(_paused, "on", False):
            return
        for position, g in enumerate(input_grads):
            kinds = set() if g is None else _kinds(g)
            if kinds:
                index, value = _first_bad(g, kinds)
                origin = origins.get(op, "a line run before detect_anomaly() was on")
                raise AnomalyError(f"{op.name}.backward produced {value} in the gradient for input {position}"
                                   f"{at_index(index)} ({_inputs_text(op.inputs)}).\n  The op was made at {origin}")


class detect_anomaly:
    """Context manager: the first NaN or Inf made by an op, forward or backward, raises
    AnomalyError naming the op, its inputs' shapes and the line of user code that made it.

    With check_nan=False it only records that line for each op (in `origins`), for
    check_graph's reports. Like no_grad, it applies to the current thread."""

    def __init__(self, check_nan=True):
        self._observing = observe(_Checker(check_nan))
        # The checker names the op behind each NaN and Inf, so NumPy's RuntimeWarning would only come first.
        self._numpy_warnings = np.errstate(all="ignore") if check_nan else contextlib.nullcontext()

    def __enter__(self):
        self._observing.__enter__()
        self._numpy_warnings.__enter__()
        return self

    def __exit__(self, *exc):
        self._numpy_warnings.__exit__(*exc)
        self._observing.__exit__(*exc)
