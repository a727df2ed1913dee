"""Every built-in op: forward and backward side by side, and the Tensor method that calls it.

Each backward is written with operators, NumPy ufuncs, `.sum`, `.reshape`,
`.transpose`, indexing and `apply_or_forward` (for an op NumPy has no ufunc for,
such as sigmoid) only, so the same code runs on ndarrays (a plain backward) and on
Tensors (under create_graph). Broadcasting is undone for every op in one place
(tensor.unbroadcast), so no op handles it itself. Each `derivatives` entry is the
local derivative for one input, as drawings label it.
"""
import numpy as np

from .context import no_grad
from .errors import AxisError, ShapeError
from .tensor import Function, Tensor, _constant, _shape_argument, tensor_method


def operands(a, b):
    """a and b as Tensors for a binary op. A number or array beside a Tensor becomes a
    constant (see _constant); an integer or bool tensor beside a floating one takes the
    floating one's dtype, as in PyTorch (NumPy would turn int64 and float32 into float64)."""
    if not isinstance(a, Tensor):
        a = _constant(a, b)
    elif not isinstance(b, Tensor):
        b = _constant(b, a)
    if (a.dtype.kind == "f") != (b.dtype.kind == "f"):
        floating = a.dtype if a.dtype.kind == "f" else b.dtype
        a, b = (x if x.dtype.kind == "f" else Tensor(x.data, dtype=floating) for x in (a, b))
    return a, b


def apply_or_forward(op, *values, **params):
    """op on values inside a backward: op.apply when some value is a Tensor (a create_graph
    backward, whose result must be differentiable again), else op.forward's plain NumPy."""
    if any(isinstance(v, Tensor) for v in values):
        return op.apply(*values, **params)
    return op.forward(op(), *values, **params)


def apply_without_gradient(op, *values, **params):
    """op's result as data with no gradient (a mask, a position, a sign): it is never recorded."""
    with no_grad():
        return op.apply(*values, **params)


# --- arithmetic ------------------------------------------------------------

class Add(Function):
    ufunc = np.add
    derivatives = ("1", "1")

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


@tensor_method
def add(self, other):
    """self + other, with NumPy broadcasting."""
    return Add.apply(*operands(self, other))


@tensor_method
def __radd__(self, other):
    return Add.apply(*operands(other, self))


Tensor.__add__ = add


class Sub(Function):
    ufunc = np.subtract
    derivatives = ("1", "−1")

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, -g if ctx.needs_input_grad[1] else None


@tensor_method
def sub(self, other):
    """self - other, with NumPy broadcasting."""
    return Sub.apply(*operands(self, other))


@tensor_method
def __rsub__(self, other):
    return Sub.apply(*operands(other, self))


Tensor.__sub__ = sub


class Mul(Function):
    ufunc = np.multiply
    derivatives = ("{b}", "{a}")

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        wanted = ctx.needs_input_grad  # skip the gradients no input asks for
        return (g * b if wanted[0] else None), (g * a if wanted[1] else None)


@tensor_method
def mul(self, other):
    """self * other, elementwise with NumPy broadcasting."""
    return Mul.apply(*operands(self, other))


@tensor_method
def __rmul__(self, other):
    return Mul.apply(*operands(other, self))


Tensor.__mul__ = mul


class Div(Function):
    ufunc = np.divide
    derivatives = ("1/{b}", "−{out}/{b}")

    @staticmethod
    def forward(ctx, a, b):
        out = a / b
        ctx.save_for_backward(b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        b, out = ctx.saved_tensors
        grad_a = g / b
        return grad_a, -grad_a * out if ctx.needs_input_grad[1] else None


@tensor_method
def div(self, other):
    """self / other, elementwise with NumPy broadcasting."""
    return Div.apply(*operands(self, other))


@tensor_method
def __rtruediv__(self, other):
    return Div.apply(*operands(other, self))


Tensor.__truediv__ = div


class Neg(Function):
    ufunc = np.negative
    derivatives = ("−1",)

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


@tensor_method
def neg(self):
    """-self."""
    return Neg.apply(self)


Tensor.__neg__ = neg


class Pow(Function):
    derivatives = ("{k}·{x}^({k}−1)",)

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        ctx.save_for_backward(x)
        return x ** k

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        if ctx.k == 0:  # x⁰ is constant; k·x^(k-1) would be 0·inf = NaN at x = 0
            return g * 0
        return g * ctx.k * x ** (ctx.k - 1)


class Power(Function):
    ufunc = np.power
    derivatives = ("{b}·{a}^({b}−1)", "{out}·ln {a}")

    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out, a == 0, b == 0)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out, zero_base, zero_exponent = ctx.saved_tensors
        wanted = ctx.needs_input_grad
        # Two slopes are 0 where a formula would give 0·inf, as in PyTorch: in a where b is 0
        # (a^(b-1) becomes a^0), and in b where a is 0 (ln a becomes ln 1).
        grad_a = g * b * a ** (b - 1 + zero_exponent) if wanted[0] else None
        return grad_a, (g * out * np.log(a + zero_base) if wanted[1] else None)


@tensor_method
def pow(self, k):
    """self ** k: k a number, or a Tensor or array (then the power is differentiable in k too)."""
    if isinstance(k, (Tensor, np.ndarray, list)):
        return Power.apply(*operands(self, k))
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, float, np.number)):
        raise TypeError(f"pow: the exponent must be a number, a Tensor or an array, got {type(k).__name__}")
    if k == 2:  # the common case, with a cheaper backward
        return Square.apply(self)
    k = k.item() if isinstance(k, np.generic) else k  # a NumPy scalar would upcast float32
    if self.dtype.kind != "f" and not (isinstance(k, int) and k >= 0):  # NumPy refuses int ** negative int
        return Pow.apply(self.astype(np.result_type(self.dtype, 1.0)), k=k)
    return Pow.apply(self, k=k)


@tensor_method
def __rpow__(self, other):
    return Power.apply(*operands(other, self))


Tensor.__pow__ = pow


class Matmul(Function):
    ufunc = np.matmul
    derivatives = ("{b}ᵀ", "{a}ᵀ")

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: {a.shape} @ {b.shape}: both operands need an axis (use * for a scalar)")
        inner = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != inner:
            raise ShapeError(f"matmul: {a.shape} @ {b.shape}: the last axis of the left ({a.shape[-1]}) must equal "
                             f"the {'only' if b.ndim == 1 else 'second-to-last'} axis of the right ({inner})")
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        if a.ndim == 1 and b.ndim == 1:  # a dot product
            return g * b, g * a
        # NumPy treats a 1-d operand as a row (left) or column (right): do the same here.
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        g2 = g.reshape(g.shape[:-1] + (1, g.shape[-1])) if a.ndim == 1 else g
        g2 = g2.reshape(g2.shape + (1,)) if b.ndim == 1 else g2
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = g2 @ _swap_last_axes(b2)
            grad_a = grad_a.reshape(grad_a.shape[:-2] + grad_a.shape[-1:]) if a.ndim == 1 else grad_a
        if ctx.needs_input_grad[1]:
            grad_b = _swap_last_axes(a2) @ g2
            grad_b = grad_b.reshape(grad_b.shape[:-1]) if b.ndim == 1 else grad_b
        return grad_a, grad_b


def _swap_last_axes(x):
    if x.ndim == 2:  # the common case, without building the axes
        return x.T
    return x.transpose(tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


@tensor_method
def matmul(self, other):
    """Matrix product self @ other, as np.matmul (1-d operands and batches included)."""
    return Matmul.apply(*operands(self, other))


@tensor_method
def __rmatmul__(self, other):
    return Matmul.apply(*operands(other, self))


Tensor.__matmul__ = matmul


# --- elementwise functions -------------------------------------------------

class Sigmoid(Function):
    derivatives = ("{out}(1−{out})",)

    @staticmethod
    def forward(ctx, x):
        # One exp, of -|x| so it never overflows: 1/(1+e) for x >= 0 and e/(1+e) below,
        # which keeps full relative accuracy where sigmoid is tiny (x = -40 gives 4.2e-18)
        # and costs a third of logaddexp on large arrays.
        e = np.exp(-np.abs(x))
        out = np.maximum(e, x >= 0) / (1 + e)  # numerator 1 where x >= 0 (e <= 1), e below
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g * out * (1 - out)


@tensor_method
def sigmoid(self):
    """1 / (1 + e^-x), elementwise."""
    return Sigmoid.apply(self)


class Tanh(Function):
    ufunc = np.tanh
    derivatives = ("1−{out}²",)

    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g * (1 - out * out)


@tensor_method
def tanh(self):
    """Hyperbolic tangent, elementwise."""
    return Tanh.apply(self)


class Relu(Function):
    derivatives = ("[{x}>0]",)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x > 0)
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx, g):
        positive, = ctx.saved_tensors
        return g * positive


@tensor_method
def relu(self):
    """max(x, 0), elementwise."""
    return Relu.apply(self)


class Exp(Function):
    ufunc = np.exp
    derivatives = ("{out}",)

    @staticmethod
    def forward(ctx, x):
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g * out


@tensor_method
def exp(self):
    """e^x, elementwise."""
    return Exp.apply(self)


class Log(Function):
    ufunc = np.log
    derivatives = ("1/{x}",)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / x


@tensor_method
def log(self):
    """Natural logarithm, elementwise."""
    return Log.apply(self)


class Square(Function):
    ufunc = np.square
    derivatives = ("2{x}",)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 2 * x * g


@tensor_method
def square(self):
    """x², elementwise."""
    return Square.apply(self)


class Sqrt(Function):
    ufunc = np.sqrt
    derivatives = ("1/(2{out})",)

    @staticmethod
    def forward(ctx, x):
        out = np.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g / (2 * out)


@tensor_method
def sqrt(self):
    """Square root, elementwise."""
    return Sqrt.apply(self)


class Abs(Function):
    ufunc = np.absolute
    derivatives = ("sign({x})",)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(np.sign(x))
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        sign, = ctx.saved_tensors
        return g * sign


@tensor_method
def abs(self):
    """|x|, elementwise."""
    return Abs.apply(self)


Tensor.__abs__ = abs


class Clip(Function):
    derivatives = ("[{low}≤{x}≤{high}]",)

    @staticmethod
    def forward(ctx, x, low, high):
        ctx.low, ctx.high = low, high
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        ctx.save_for_backward(inside)
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx, g):
        inside, = ctx.saved_tensors
        return g * inside


@tensor_method
def clip(self, low=None, high=None):
    """Values limited to [low, high]; either bound may be None."""
    if low is None and high is None:
        raise ValueError("clip: give low, high or both")
    return Clip.apply(self, low=low, high=high)


class Sin(Function):
    ufunc = np.sin
    derivatives = ("cos {x}",)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * np.cos(x)


@tensor_method
def sin(self):
    """Sine, elementwise."""
    return Sin.apply(self)


class Cos(Function):
    ufunc = np.cos
    derivatives = ("−sin {x}",)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return -g * np.sin(x)


@tensor_method
def cos(self):
    """Cosine, elementwise."""
    return Cos.apply(self)


class Log1p(Function):
    ufunc = np.log1p
    derivatives = ("1/(1+{x})",)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log1p(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / (1 + x)


@tensor_method
def log1p(self):
    """log(1 + x), elementwise, accurate for tiny x."""
    return Log1p.apply(self)


class Expm1(Function):
    ufunc = np.expm1
    derivatives = ("{out}+1",)

    @staticmethod
    def forward(ctx, x):
        out = np.expm1(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g * (out + 1)


@tensor_method
def expm1(self):
    """e^x - 1, elementwise, accurate for tiny x."""
    return Expm1.apply(self)


class Sign(Function):
    """-1, 0 or 1 by the sign of x (NaN stays NaN); flat wherever it has a slope, so no gradient."""

    @staticmethod
    def forward(ctx, x):
        return np.sign(x)


@tensor_method
def sign(self):
    """-1, 0 or 1 by the sign of each element, as a Tensor with no gradient."""
    return apply_without_gradient(Sign, self)


class LeakyRelu(Function):
    derivatives = ("1 if {x}>0 else {negative_slope}",)

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        slope = np.where(x > 0, 1, negative_slope).astype(x.dtype, copy=False)
        ctx.save_for_backward(slope)
        return x * slope

    @staticmethod
    def backward(ctx, g):
        slope, = ctx.saved_tensors
        return g * slope


@tensor_method
def leaky_relu(self, negative_slope=0.01):
    """x for x > 0, else negative_slope·x, elementwise."""
    return LeakyRelu.apply(self, negative_slope=negative_slope)


class Elu(Function):
    derivatives = ("1 if {x}>0 else {out}+{alpha}",)

    @staticmethod
    def forward(ctx, x, alpha=1.0):
        ctx.alpha = alpha
        positive = x > 0
        out = np.where(positive, x, alpha * np.expm1(np.minimum(x, 0)))  # no overflow for large x
        ctx.save_for_backward(positive, ~positive, out)
        return out

    @staticmethod
    def backward(ctx, g):
        positive, negative, out = ctx.saved_tensors
        # Below 0 the slope α·e^x is out + α: written with out, it differentiates again.
        return g * (positive + negative * (out + ctx.alpha))


@tensor_method
def elu(self, alpha=1.0):
    """x for x > 0, else alpha·(e^x - 1), elementwise."""
    return Elu.apply(self, alpha=alpha)


class Silu(Function):
    derivatives = ("σ({x}) + {out}(1−σ({x}))",)

    @staticmethod
    def forward(ctx, x):
        out = x * apply_or_forward(Sigmoid, x)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        s = apply_or_forward(Sigmoid, x)  # an op under create_graph, so the slope differentiates too
        return g * (s + out * (1 - s))


@tensor_method
def silu(self):
    """x·sigmoid(x), elementwise (also called swish)."""
    return Silu.apply(self)


_GELU_C = float(np.sqrt(2 / np.pi))  # gelu's tanh approximation: tanh(c·(x + 0.044715·x³))


class Gelu(Function):
    derivatives = ("½(1+t) + ½{x}(1−t²)·c(1+3·0.044715{x}²)",)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * x * (1 + np.tanh(_GELU_C * (x + 0.044715 * x * x * x)))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        t = np.tanh(_GELU_C * (x + 0.044715 * x * x * x))
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_C * (1 + 3 * 0.044715 * x * x))


@tensor_method
def gelu(self):
    """0.5·x·(1 + tanh(√(2/π)·(x + 0.044715x³))), elementwise: torch's gelu(approximate="tanh")."""
    return Gelu.apply(self)


class Softplus(Function):
    derivatives = ("σ({x})",)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.logaddexp(0, x)  # log(1 + e^x) without overflow at any x

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * apply_or_forward(Sigmoid, x)


@tensor_method
def softplus(self):
    """log(1 + e^x), elementwise, stable for any x."""
    return Softplus.apply(self)


class LogSigmoid(Function):
    derivatives = ("σ(−{x})",)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return -np.logaddexp(0, -x)  # -log(1 + e^-x) without overflow at any x

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * apply_or_forward(Sigmoid, -x)


@tensor_method
def logsigmoid(self):
    """log(sigmoid(x)), elementwise, stable for any x."""
    return LogSigmoid.apply(self)


# --- reductions ------------------------------------------------------------

def _reduced_axes(x, axis, op):
    """axis (an int or a tuple of ints, negatives counting from the end) as a sorted tuple of
    axes of x; None stays None. Floats, strings and repeated axes are refused, as NumPy does."""
    if axis is None:
        return None
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    if any(isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)) for a in axes):
        raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}")
    normalized = [int(a) + x.ndim if a < 0 else int(a) for a in axes]
    if any(not 0 <= a < x.ndim for a in normalized):
        raise AxisError(f"{op}: axis {axis!r} is out of range for a tensor of shape {x.shape}")
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: axis {axis!r} names an axis twice")
    return tuple(sorted(normalized))


def _remember_reduction(ctx, x, axis, keepdims, op):
    """Store what backward needs to spread a reduced gradient back over x."""
    axes = _reduced_axes(x, axis, op)
    ctx.input_shape = x.shape
    # Without keepdims, a partial reduction's gradient needs its reduced axes back before it broadcasts.
    partial = axes is not None and len(axes) < x.ndim and not keepdims
    ctx.kept_shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape)) if partial else None
    return axes


def _reduced_count(x, axes):
    """How many elements of x each result of a reduction over axes takes in."""
    return x.size if axes is None else int(np.prod([x.shape[a] for a in axes]))


def _spread(ctx, g):
    """The reduced gradient g, broadcast back over the reduced axes (adding zeros works on Tensors too)."""
    if ctx.kept_shape is not None:
        g = g.reshape(ctx.kept_shape)
    return g + np.zeros(ctx.input_shape, dtype=g.dtype)


class Sum(Function):
    derivatives = ("1",)

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        return x.sum(axis=_remember_reduction(ctx, x, axis, keepdims, "sum"), keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return _spread(ctx, g)


class Mean(Function):
    derivatives = ("1/n",)

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _remember_reduction(ctx, x, axis, keepdims, "mean")
        ctx.count = _reduced_count(x, axes)
        return x.mean(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return _spread(ctx, g / ctx.count)


class Max(Function):
    derivatives = ("[{x}=max]",)
    reduce = staticmethod(np.max)  # Min below is this op with np.min

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        name = ctx.name.lower()
        axes = _reduced_axes(x, axis, name)
        if x.size == 0:
            raise ShapeError(f"{name}: cannot reduce an empty tensor of shape {x.shape}")
        out = type(ctx).reduce(x, axis=axes, keepdims=True)
        ctx.kept_shape = out.shape
        # Ties share the gradient equally, so it is the derivative of the max value;
        # a NaN is the max (NumPy propagates it) and takes the gradient, as in PyTorch.
        # The same holds for min.
        is_max = (x == out) | (np.isnan(x) & np.isnan(out))
        ctx.save_for_backward(is_max / is_max.sum(axis=axes, keepdims=True))
        return out if keepdims else np.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, g):
        share, = ctx.saved_tensors
        return g.reshape(ctx.kept_shape) * share


class Min(Max):
    derivatives = ("[{x}=min]",)
    reduce = staticmethod(np.min)


class Var(Function):
    derivatives = ("2({x}−mean)/(n−correction)",)

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, correction=1):
        ctx.axes = axes = _remember_reduction(ctx, x, axis, keepdims, "var")
        ctx.divisor = _reduced_count(x, axes) - correction  # 0 or less gives inf or NaN, as NumPy and PyTorch do
        ctx.save_for_backward(x)
        centered = x - x.mean(axis=axes, keepdims=True)
        return (centered * centered).sum(axis=axes, keepdims=keepdims) / ctx.divisor

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return _spread(ctx, g) * 2 * (x - x.mean(axis=ctx.axes, keepdims=True)) / ctx.divisor


class LogSumExp(Function):
    derivatives = ("softmax({x})",)

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _remember_reduction(ctx, x, axis, keepdims, "logsumexp")
        # Shift by the max so exp never overflows; an infinite max (or an empty tensor) is not shifted.
        shift = np.max(x, axis=axes, keepdims=True, initial=-np.inf)
        shift = np.where(np.isfinite(shift), shift, 0)
        with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer for all -inf or empty
            out = np.log(np.exp(x - shift).sum(axis=axes, keepdims=True)) + shift
        out = out if keepdims else np.squeeze(out, axis=axes)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        kept = out if ctx.kept_shape is None else out.reshape(ctx.kept_shape)
        return _spread(ctx, g) * np.exp(x - kept)


class Cumsum(Function):
    derivatives = ("1 for each later sum",)

    @staticmethod
    def forward(ctx, x, axis):
        ctx.reverse = (slice(None),) * axis + (slice(None, None, -1),)
        ctx.axis = axis
        return np.cumsum(x, axis=axis)

    @staticmethod
    def backward(ctx, g):
        # Element i feeds every sum from i on: the gradient is g summed from the end back to i.
        return g[ctx.reverse].cumsum(axis=ctx.axis)[ctx.reverse]


@tensor_method
def sum(self, axis=None, keepdims=False):
    """Sum over axis (an int, a tuple or None for all)."""
    return Sum.apply(self, axis=axis, keepdims=keepdims)


@tensor_method
def mean(self, axis=None, keepdims=False):
    """Mean over axis (an int, a tuple or None for all)."""
    return Mean.apply(self, axis=axis, keepdims=keepdims)


@tensor_method
def max(self, axis=None, keepdims=False):
    """Largest value over axis; ties share the gradient."""
    return Max.apply(self, axis=axis, keepdims=keepdims)


@tensor_method
def min(self, axis=None, keepdims=False):
    """Smallest value over axis; ties share the gradient."""
    return Min.apply(self, axis=axis, keepdims=keepdims)


@tensor_method
def var(self, axis=None, keepdims=False, correction=1):
    """Variance over axis: the mean squared distance from the mean, divided by n - correction."""
    return Var.apply(self, axis=axis, keepdims=keepdims, correction=correction)


@tensor_method
def std(self, axis=None, keepdims=False, correction=1):
    """Standard deviation over axis: the square root of var."""
    return self.var(axis, keepdims, correction).sqrt()


@tensor_method
def logsumexp(self, axis=None, keepdims=False):
    """log(Σ e^x) over axis, computed without overflow."""
    return LogSumExp.apply(self, axis=axis, keepdims=keepdims)


@tensor_method
def cumsum(self, axis):
    """Running sums along axis: element i is the sum of elements 0..i."""
    if self.ndim == 0:  # as torch: a 0-d tensor is its own running sum
        return self.reshape(())
    return Cumsum.apply(self, axis=_reduced_axes(self, axis, "cumsum")[0])


# --- shapes ----------------------------------------------------------------

class Reshape(Function):
    derivatives = ("reshape",)

    @staticmethod
    def forward(ctx, x, shape):
        ctx.input_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.input_shape)


class Transpose(Function):
    derivatives = ("transpose",)

    @staticmethod
    def forward(ctx, x, axes):
        if axes is not None and sorted(axes) != list(range(x.ndim)):
            raise ShapeError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
        ctx.inverse = tuple(sorted(range(len(axes)), key=axes.__getitem__)) if axes is not None else None
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(ctx.inverse)


class BroadcastTo(Function):
    derivatives = ("1",)

    @staticmethod
    def forward(ctx, x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return g  # summing back to the input's shape is done for every op in one place


@tensor_method
def reshape(self, *shape):
    """The same values in a new shape (one size may be -1)."""
    return Reshape.apply(self, shape=_shape_argument(shape, "reshape"))


@tensor_method
def transpose(self, *axes):
    """Axes permuted (all reversed by default); two axes of a tensor with more than two are swapped."""
    axes = _shape_argument(axes, "transpose") if axes and axes != (None,) else None
    if axes is not None and len(axes) == 2 and self.ndim > 2:  # torch.transpose(x, i, j)
        order = list(range(self.ndim))
        i, j = (_reduced_axes(self, a, "transpose")[0] for a in axes)
        order[i], order[j] = order[j], order[i]
        axes = tuple(order)
    elif axes is not None and len(axes) == self.ndim:
        axes = tuple(a + self.ndim if a < 0 else a for a in axes)
    return Transpose.apply(self, axes=axes)


@tensor_method
def broadcast_to(self, *shape):
    """The tensor repeated along new or size-1 axes to the given shape, as np.broadcast_to."""
    return BroadcastTo.apply(self, shape=_shape_argument(shape, "broadcast_to"))


# --- softmax ---------------------------------------------------------------

def _shifted(x, axis):
    """x minus its max along axis: exp of it never overflows."""
    return x - x.max(axis=axis, keepdims=True)


class Softmax(Function):
    derivatives = ("{out}(δ−{out})",)

    @staticmethod
    def forward(ctx, x, axis=-1):
        ctx.axis = axis
        e = np.exp(_shifted(x, axis))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return out * (g - (g * out).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    derivatives = ("δ−softmax({x})",)

    @staticmethod
    def forward(ctx, x, axis=-1):
        ctx.axis = axis
        shifted = _shifted(x, axis)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g - np.exp(out) * g.sum(axis=ctx.axis, keepdims=True)


@tensor_method
def softmax(self, axis=-1):
    """e^x / Σ e^x along axis, computed without overflow."""
    _reduced_axes(self, axis, "softmax")  # a clear error for an axis out of range
    return Softmax.apply(self, axis=axis)


@tensor_method
def log_softmax(self, axis=-1):
    """log(softmax(x)) along axis, computed without overflow."""
    _reduced_axes(self, axis, "log_softmax")
    return LogSoftmax.apply(self, axis=axis)


# --- casts -------------------------------------------------------------------

class Cast(Function):
    derivatives = ("1",)

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.input_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.input_dtype)  # the gradient in the input's own dtype


@tensor_method
def astype(self, dtype):
    """The tensor as another dtype; differentiable between floating dtypes, data without gradient otherwise."""
    dtype = np.dtype(dtype)
    if dtype == self.dtype:
        return self
    if dtype.kind != "f":  # an integer or bool result has no gradient
        return apply_without_gradient(Cast, self, dtype=dtype)
    return Cast.apply(self, dtype=dtype)


def float32(self):
    """The tensor as float32 (PyTorch's t.float())."""
    return self.astype(np.float32)


def float64(self):
    """The tensor as float64 (PyTorch's t.double())."""
    return self.astype(np.float64)


# Named float32 and float64 here: a module-level `def float` would hide the builtin in this module.
Tensor.float, Tensor.double = float32, float64
