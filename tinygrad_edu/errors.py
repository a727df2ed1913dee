"""The errors tinygrad_edu raises on purpose, so users can catch them by name."""


class ShapeError(ValueError):
    """Operands whose shapes don't fit the op; the message names the op and the shapes."""


class AxisError(ShapeError, IndexError):
    """An axis out of range for the tensor's shape (an IndexError too, as NumPy's AxisError)."""


class GradcheckError(AssertionError):
    """A reverse-mode gradient disagrees with finite differences."""


class AnomalyError(FloatingPointError):
    """Under detect_anomaly(), an op produced NaN or Inf."""


class JitError(RuntimeError):
    """tinygrad_edu.jit could not record or replay a step faithfully; the message names the line of the step."""
