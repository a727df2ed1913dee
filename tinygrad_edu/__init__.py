"""tinygrad_edu: a small reverse-mode automatic differentiation engine on NumPy."""
from .errors import AnomalyError, GradcheckError, JitError, ShapeError
from .tensor import Function, Tensor, grad, no_grad, scope
from . import ops  # noqa: F401  (attaches the ops to Tensor)
from . import conv  # noqa: F401  (attaches conv2d and the poolings to Tensor)
from .gradcheck import check_graph, gradcheck, gradgradcheck
from .anomaly import detect_anomaly

__all__ = ["Tensor", "Function", "grad", "no_grad", "scope", "gradcheck", "gradgradcheck", "check_graph",
           "detect_anomaly", "ShapeError", "GradcheckError", "AnomalyError", "JitError"]
