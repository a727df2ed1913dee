"""detect_anomaly(): stop at the first op that makes NaN or Inf, and say where it was made."""
import os
import traceback

import numpy as np

from .errors import AnomalyError
from .tensor import _state

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_frame():
    """The innermost stack frame outside tinygrad_edu: the line of user code that made the op."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno}: {frame.line}"
    return "<unknown>"


def _not_finite(values):
    return any(v is not None and not np.all(np.isfinite(np.asarray(v))) for v in values)


class _Checker:
    """What the engine calls while anomaly mode is on."""

    def check_forward(self, ctx, inputs, out):
        ctx.origin = _user_frame()
        if _not_finite([out.data]) and not _not_finite([x.data for x in inputs]):
            shapes = ", ".join(str(x.shape) for x in inputs)
            raise AnomalyError(f"{ctx.name} (inputs of shape {shapes}) produced NaN or Inf in forward; "
                               f"the op was made at {ctx.origin}")

    def check_backward(self, ctx, input_grads):
        if _not_finite(input_grads):
            shapes = ", ".join(str(x.shape) for x in ctx.inputs)
            origin = getattr(ctx, "origin", None) or "a line run before detect_anomaly() was on"
            raise AnomalyError(f"{ctx.name}.backward (inputs of shape {shapes}) produced NaN or Inf; "
                               f"the op was made at {origin}")


class detect_anomaly:
    """Context manager: the first NaN or Inf made by an op, forward or backward,
    raises AnomalyError naming the op and the user line that made it."""

    def __enter__(self):
        self._previous = _state.anomaly
        _state.anomaly = _Checker()

    def __exit__(self, *exc):
        _state.anomaly = self._previous
