"""Joining, splitting and reshaping tensors: cat, stack, split, squeeze, unsqueeze, flatten,
flip, pad, and PyTorch's names permute, expand and view.

Only cat, stack and pad are ops of their own. The others move no numbers, so they are
written with reshape, transpose, broadcast_to and indexing, whose gradients already
flow; a drawing shows them as those ops.
"""
import math

import numpy as np

from .errors import AxisError, ShapeError
from .ops import Transpose
from .tensor import Function, Tensor, _shape_argument, tensor_method


def _axis(axis, ndim, op):
    """axis (negative counts from the end) as an index in range(ndim), or a clear error."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise AxisError(f"{op}: axis {axis} is out of range for {ndim} dimensions")
    return int(axis) % ndim


def _axes(axis, ndim, op):
    """An int or a tuple of ints as a tuple of distinct axes in range(ndim)."""
    axes = tuple(_axis(a, ndim, op) for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{op}: axis {axis!r} names an axis twice")
    return axes


def _along(axis, part):
    """An index that applies `part` (an int or a slice) to one axis and keeps the others whole."""
    return (slice(None),) * axis + (part,)


# --- joining -----------------------------------------------------------------

class Cat(Function):
    derivatives = ("1 on its own slice",)

    @staticmethod
    def forward(ctx, *xs, axis=0):
        ctx.axis = axis
        ctx.ends = np.cumsum([x.shape[axis] for x in xs]).tolist()
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        starts = [0] + ctx.ends[:-1]
        return tuple(g[_along(ctx.axis, slice(start, end))] if wanted else None
                     for start, end, wanted in zip(starts, ctx.ends, ctx.needs_input_grad))


class Stack(Function):
    derivatives = ("1 on its own slice",)

    @staticmethod
    def forward(ctx, *xs, axis=0):
        ctx.axis = axis
        return np.stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return tuple(g[_along(ctx.axis, i)] if wanted else None for i, wanted in enumerate(ctx.needs_input_grad))


def _joined(op, tensors, axis, new_axis):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op.__name__.lower()}: needs at least one tensor")
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]  # arrays and lists: constants
    floats = [t.dtype for t in tensors if t.dtype.kind == "f"]
    if floats:  # integer and bool tensors beside floating ones take their dtype, as in PyTorch
        tensors = [t if t.dtype.kind == "f" else Tensor(t.data, dtype=np.result_type(*floats)) for t in tensors]
    return op.apply(*tensors, axis=_axis(axis, tensors[0].ndim + new_axis, op.__name__.lower()))


def cat(tensors, axis=0):
    """The tensors joined along an existing axis (their other sizes must agree)."""
    return _joined(Cat, tensors, axis, new_axis=False)


def stack(tensors, axis=0):
    """The tensors (all of one shape) joined along a new axis."""
    return _joined(Stack, tensors, axis, new_axis=True)


@tensor_method
def split(self, size_or_sections, axis=0):
    """A tuple of pieces along axis, as torch.split: an int is each piece's size (the last may be
    smaller), a list gives the sizes."""
    axis = _axis(axis, self.ndim, "split")
    length = self.shape[axis]
    if isinstance(size_or_sections, (int, np.integer)):
        if size_or_sections <= 0:
            raise ValueError(f"split: the size of a piece must be positive, got {size_or_sections}")
        sizes = [min(size_or_sections, length - start) for start in range(0, length, size_or_sections)] or [0]
    else:
        sizes = [int(n) for n in size_or_sections]
        if sum(sizes) != length or min(sizes, default=0) < 0:
            raise ShapeError(f"split: sizes {sizes} do not add up to {length}, the size of axis {axis} "
                             f"of shape {self.shape}")
    ends = np.cumsum(sizes).tolist()
    return tuple(self[_along(axis, slice(end - size, end))] for size, end in zip(sizes, ends))


# --- padding ------------------------------------------------------------------

class Pad(Function):
    derivatives = ("1 inside the padding",)

    @staticmethod
    def forward(ctx, x, pad_width, value=0.0):
        ctx.inside = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))
        # A 0-d tensor has no axis to pad: np.pad takes 0 to say so, not an empty tuple.
        return np.pad(x, pad_width or 0, constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.inside]


@tensor_method
def pad(self, pad_width, value=0.0):
    """The tensor with `value` added around it; pad_width as np.pad takes it (an int, a
    (before, after) pair, or one pair per axis)."""
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu" or (widths < 0).any():
        raise ValueError(f"pad: pad_width must be non-negative ints, got {pad_width!r}")
    try:
        widths = np.broadcast_to(widths, (self.ndim, 2))
    except ValueError:
        raise ShapeError(f"pad: pad_width {pad_width!r} does not fit a tensor of shape {self.shape}: give an "
                         f"int, a (before, after) pair or {self.ndim} pairs") from None
    return Pad.apply(self, pad_width=tuple(tuple(int(n) for n in pair) for pair in widths), value=value)


# --- shapes, written with reshape, transpose, broadcast_to and indexing ---------------

@tensor_method
def squeeze(self, axis=None):
    """The tensor without axes of size 1 (all of them, or those in axis; other sizes are left, as torch)."""
    axes = range(self.ndim) if axis is None else _axes(axis, self.ndim, "squeeze")
    dropped = {a for a in axes if self.shape[a] == 1}
    return self.reshape(tuple(n for a, n in enumerate(self.shape) if a not in dropped))


@tensor_method
def unsqueeze(self, axis):
    """The tensor with a new axis of size 1 at position axis (negative counts from the end)."""
    axis = _axis(axis, self.ndim + 1, "unsqueeze")
    return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])


@tensor_method
def flatten(self, start_axis=0, end_axis=-1):
    """The axes from start_axis to end_axis (both included) merged into one."""
    if self.ndim == 0:
        return self.reshape(1)
    start, end = _axis(start_axis, self.ndim, "flatten"), _axis(end_axis, self.ndim, "flatten")
    if start > end:
        raise ShapeError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis} in shape {self.shape}")
    return self.reshape(self.shape[:start] + (math.prod(self.shape[start:end + 1]),) + self.shape[end + 1:])


@tensor_method
def flip(self, axis):
    """The tensor with the order of its elements reversed along axis (an int or a tuple)."""
    axes = _axes(axis, self.ndim, "flip")
    return self[tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(self.ndim))]


@tensor_method
def permute(self, *axes):
    """The axes in a new order, a full permutation (negative axes count from the end), as torch.permute."""
    axes = _shape_argument(axes, "permute")
    if len(axes) != self.ndim:
        raise ShapeError(f"permute: {axes} does not name each of the {self.ndim} axes of shape {self.shape} once")
    return Transpose.apply(self, axes=_axes(axes, self.ndim, "permute"))


@tensor_method
def expand(self, *shape):
    """The tensor broadcast to shape, as torch.expand: -1 keeps an axis's size; new axes go in front."""
    shape = _shape_argument(shape, "expand")
    new = len(shape) - self.ndim
    if new < 0 or -1 in shape[:new]:
        raise ShapeError(f"expand: shape {shape} does not fit a tensor of shape {self.shape}")
    return self.broadcast_to(shape[:new] + tuple(old if n == -1 else n for n, old in zip(shape[new:], self.shape)))


@tensor_method
def view(self, *shape):
    """The same as reshape (it may copy), PyTorch's name."""
    return self.reshape(*shape)
