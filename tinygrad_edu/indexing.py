"""Picking elements: indexing, writing by index, comparisons, where, maximum, minimum, argmax.

`t[index]` is the op GetItem. Its backward puts the gradient back where the
elements came from: zeros of the input's shape with the gradient added at the
index (ScatterAdd), so an element picked twice gets both gradients, as
`np.add.at` adds them. ScatterAdd's own backward is indexing again, so second
derivatives flow through both.

Comparisons, argmax and argmin give data (masks, positions), not functions to
differentiate: their results are bool or int64 Tensors outside the graph.
"""
import numpy as np

from .context import is_grad_enabled
from .errors import ShapeError
from .ops import apply_or_forward, apply_without_gradient, operands
from .tensor import Function, Tensor, tensor_method


# --- indexing ----------------------------------------------------------------

def normalized_index(index, op):
    """index as the tuple NumPy reads, with lists and Tensors turned into integer or bool arrays.

    Arrays are copied, so a caller who changes theirs later changes nothing the graph keeps.
    """
    parts = index if isinstance(index, tuple) else (index,)
    return tuple(_index_part(part, op) for part in parts)


def _index_part(part, op):
    if part is None or part is Ellipsis or isinstance(part, (slice, bool, np.bool_)):
        return part
    if isinstance(part, (int, np.integer)):
        return int(part)
    array = np.array(part.data if isinstance(part, Tensor) else part)
    if array.dtype.kind not in "iub":
        if array.size == 0 and not isinstance(part, (Tensor, np.ndarray)):
            return array.astype(np.intp)  # t[[]] picks nothing, as NumPy reads an empty list
        raise IndexError(f"{op}: indices must be integers, slices, None, ..., or integer or bool arrays "
                         f"(or Tensors); got {type(part).__name__} of dtype {array.dtype}")
    array.flags.writeable = False
    return array


def _added_at(g, index, shape):
    """Zeros of `shape` with g added at index."""
    out = np.zeros(shape, dtype=g.dtype)
    if any(isinstance(part, np.ndarray) and part.dtype.kind != "b" for part in index):
        np.add.at(out, index, g)  # an integer array may pick one place twice: add, don't overwrite
    else:
        out[index] = g  # slices and masks pick each place once; this is much faster than add.at
    return out


class GetItem(Function):
    derivatives = ("1 at the picked places",)

    @staticmethod
    def forward(ctx, x, index):
        ctx.index, ctx.input_shape = index, x.shape
        try:
            return x[index]
        except IndexError as error:
            raise IndexError(f"getitem: {error} (indexing a tensor of shape {x.shape})") from None

    @staticmethod
    def backward(ctx, g):
        return apply_or_forward(ScatterAdd, g, index=ctx.index, shape=ctx.input_shape)


class ScatterAdd(Function):
    """Zeros of `shape` with g added at index: the backward of GetItem (used by it, not a method)."""
    derivatives = ("picks [index]",)

    @staticmethod
    def forward(ctx, g, index, shape):
        ctx.index = index
        return _added_at(g, index, shape)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.index]


@tensor_method
def __getitem__(self, index):
    """t[index] as NumPy reads it: ints, slices, None, ..., integer or bool arrays, lists or Tensors."""
    return GetItem.apply(self, index=normalized_index(index, "getitem"))


@tensor_method
def __iter__(self):
    """The rows of the tensor, one Tensor each (an error for a 0-d tensor, as len() is)."""
    return (self[i] for i in range(len(self)))


@tensor_method
def __setitem__(self, index, value):
    """t[index] = value for a tensor outside any graph; the tensor gets a new array with the change."""
    if self.requires_grad and (not self.is_leaf or is_grad_enabled()):
        raise RuntimeError(
            f"setitem: this tensor of shape {self.shape} is part of a graph (it requires grad), so writing "
            f"into it would change what backward differentiates. Build the new values with ops instead "
            f"(where, cat, pad), write into a copy (c = t.detach(); c[index] = value), or, to change a "
            f"parameter, write under no_grad()")
    if isinstance(value, Tensor) and value.requires_grad and is_grad_enabled():
        raise RuntimeError(f"setitem: the value (shape {value.shape}) requires grad, but writing copies its "
                           f"numbers and would drop its gradient; combine tensors with where() or cat() instead, "
                           f"or write value.detach()")
    index = normalized_index(index, "setitem")
    data = np.array(self.data)  # copy on write: an array a graph saved never changes
    try:
        data[index] = value.data if isinstance(value, Tensor) else value
    except IndexError as error:
        raise IndexError(f"setitem: {error} (indexing a tensor of shape {self.shape})") from None
    except ValueError as error:
        raise ShapeError(f"setitem: a value of shape {np.shape(value)} does not fit the places picked "
                         f"from shape {self.shape}: {error}") from None
    data.flags.writeable = False
    self.data = data


# --- comparisons -----------------------------------------------------------------

class Compare(Function):
    """a ∘ b elementwise for a NumPy comparison such as np.less; a bool result with no gradient."""

    @staticmethod
    def forward(ctx, a, b, relation):
        return relation(a, b)


def _compare(relation, a, b):
    if not isinstance(b, (Tensor, int, float, np.number, np.bool_, np.ndarray, list, tuple)):
        return NotImplemented  # t == None is False, t < "x" a TypeError, as Python does for unknown types
    return apply_without_gradient(Compare, *operands(a, b), relation=relation)


@tensor_method
def __lt__(self, other):
    """Elementwise self < other, a bool Tensor."""
    return _compare(np.less, self, other)


@tensor_method
def __le__(self, other):
    """Elementwise self <= other, a bool Tensor."""
    return _compare(np.less_equal, self, other)


@tensor_method
def __gt__(self, other):
    """Elementwise self > other, a bool Tensor."""
    return _compare(np.greater, self, other)


@tensor_method
def __ge__(self, other):
    """Elementwise self >= other, a bool Tensor."""
    return _compare(np.greater_equal, self, other)


@tensor_method
def __eq__(self, other):
    """Elementwise self == other, a bool Tensor (ask `a is b` whether two tensors are the same one)."""
    return _compare(np.equal, self, other)


@tensor_method
def __ne__(self, other):
    """Elementwise self != other, a bool Tensor."""
    return _compare(np.not_equal, self, other)


# --- where, maximum, minimum ---------------------------------------------------------

class Where(Function):
    derivatives = ("0", "[{x}]", "[not {x}]")  # {x} is the first input, the condition

    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.save_for_backward(condition, ~condition)
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, g):
        chosen, other = ctx.saved_tensors
        wanted = ctx.needs_input_grad
        return None, (g * chosen if wanted[1] else None), (g * other if wanted[2] else None)


def where(condition, a, b):
    """Elementwise a where condition is True, else b; condition is a bool Tensor or array."""
    if not isinstance(condition, Tensor):
        condition = Tensor(condition, dtype=np.asarray(condition).dtype)
    if condition.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool Tensor or array (a comparison such as x > 0 makes "
                        f"one), got dtype {condition.dtype}")
    return Where.apply(condition, *_operands(a, b))


def _operands(a, b):
    """operands(a, b), also when neither is a Tensor (then they follow Tensor()'s rules)."""
    return operands(a if isinstance(a, Tensor) or isinstance(b, Tensor) else Tensor(a), b)


class Maximum(Function):
    """The larger of a and b elementwise. At a tie each gets half the gradient (as max shares it);
    a NaN wins, as np.maximum gives it, and takes the gradient."""
    ufunc = np.maximum
    beats = staticmethod(np.greater)
    derivatives = ("[{a}>{b}] (½ at ties)", "[{b}>{a}] (½ at ties)")

    @staticmethod
    def forward(ctx, a, b):
        out = type(ctx).ufunc(a, b)
        a_wins = type(ctx).beats(a, b) | np.isnan(a)
        ctx.save_for_backward(np.where(a == b, 0.5, a_wins).astype(out.dtype, copy=False))
        return out

    @staticmethod
    def backward(ctx, g):
        share_of_a, = ctx.saved_tensors
        wanted = ctx.needs_input_grad
        return (g * share_of_a if wanted[0] else None), (g * (1 - share_of_a) if wanted[1] else None)


class Minimum(Maximum):
    """The smaller of a and b elementwise; ties and NaN as for Maximum."""
    ufunc = np.minimum
    beats = staticmethod(np.less)
    derivatives = ("[{a}<{b}] (½ at ties)", "[{b}<{a}] (½ at ties)")


@tensor_method
def maximum(a, b):
    """The larger of a and b elementwise (Tensors, numbers or arrays, broadcast); ties share the gradient."""
    return Maximum.apply(*_operands(a, b))


@tensor_method
def minimum(a, b):
    """The smaller of a and b elementwise (Tensors, numbers or arrays, broadcast); ties share the gradient."""
    return Minimum.apply(*_operands(a, b))


# --- argmax, argmin ------------------------------------------------------------------

class ArgMax(Function):
    """Position of the largest element along axis (flat when axis is None): the first one at
    a tie, a NaN if there is one (as NumPy and PyTorch); int64, with no gradient."""
    find = staticmethod(np.argmax)

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        if axis is not None and not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{ctx.name.lower()}: axis must be an int or None, got {axis!r}")
        return type(ctx).find(x, axis=axis, keepdims=keepdims).astype(np.int64)


class ArgMin(ArgMax):
    """Position of the smallest element along axis; ties and NaN as for ArgMax."""
    find = staticmethod(np.argmin)


@tensor_method
def argmax(self, axis=None, keepdims=False):
    """Index of the largest element (along axis, or of the flattened tensor), as an int64 Tensor."""
    return apply_without_gradient(ArgMax, self, axis=axis, keepdims=keepdims)


@tensor_method
def argmin(self, axis=None, keepdims=False):
    """Index of the smallest element (along axis, or of the flattened tensor), as an int64 Tensor."""
    return apply_without_gradient(ArgMin, self, axis=axis, keepdims=keepdims)
