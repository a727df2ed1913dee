"""tinygrad_edu: a small reverse-mode automatic differentiation engine on NumPy."""
from .errors import AnomalyError, AxisError, GradcheckError, JitError, ShapeError
from .context import is_grad_enabled, no_grad, observe, scope
from .tensor import Function, Tensor, backward_order, grad, unbroadcast
from . import ops  # noqa: F401  (gives Tensor its op methods)
from . import conv  # noqa: F401  (gives Tensor conv2d and the poolings)
from .indexing import maximum, minimum, where
from .shapes import cat, stack
from .gradcheck import check_graph, gradcheck, gradgradcheck
from .anomaly import detect_anomaly
from .jit import jit

__all__ = ["Tensor", "Function", "grad", "no_grad", "is_grad_enabled", "scope", "observe",
           "backward_order", "unbroadcast", "where", "maximum", "minimum", "cat", "stack",
           "gradcheck", "gradgradcheck", "check_graph", "detect_anomaly", "jit",
           "ShapeError", "AxisError", "GradcheckError", "AnomalyError", "JitError"]
