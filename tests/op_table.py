"""Every built-in op, one line each, with the inputs it is checked on.

test_ops.py checks each line's first and second derivatives against central
finite differences in float64 over random shapes, so an op added here is
checked by construction. Inputs keep clear of the points where an op has a
kink or leaves its domain, since finite differences straddling one are wrong.
"""
from dataclasses import dataclass
from typing import Callable

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np

from tinygrad_edu import cat, maximum, minimum, stack, where

REAL = st.floats(-3, 3)
POSITIVE = st.floats(0.3, 3)
NONZERO = st.one_of(st.floats(-3, -0.5), st.floats(0.5, 3))
# Apart by 0.01 at least, so a max has no ties within eps of each other.
DISTINCT = st.integers(-300, 300).map(lambda k: k / 100)
ANY_SHAPE = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


def away_from(*kinks, gap=0.01):
    return REAL.filter(lambda v: all(abs(v - k) > gap for k in kinks))


def arrays(shape, elements=REAL, unique=False):
    return hnp.arrays(np.float64, shape, elements=elements, unique=unique)


def unary(elements=REAL, shapes=ANY_SHAPE, **params):
    return shapes.flatmap(lambda s: arrays(s, elements)).map(lambda a: ((a,), params))


def binary(left=REAL, right=REAL):
    """Two arrays of mutually broadcastable shapes."""
    pair = hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4)
    return pair.flatmap(lambda p: st.tuples(arrays(p.input_shapes[0], left),
                                            arrays(p.input_shapes[1], right))).map(lambda a: (a, {}))


@st.composite
def reduction(draw, elements=REAL, unique=False):
    """An array and every form of axis: None, an int (negative too), a tuple; keepdims either way."""
    shape = draw(ANY_SHAPE)
    ndim = len(shape)
    single = st.integers(-ndim, ndim - 1) if ndim else st.nothing()
    several = st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(tuple) if ndim else st.just(())
    axis = draw(st.one_of(st.none(), single, several))
    return (draw(arrays(shape, elements, unique)),), {"axis": axis, "keepdims": draw(st.booleans())}


@st.composite
def matmul_operands(draw):
    """Matrix-matrix, batched, and the 1-d forms NumPy's matmul gives a meaning to."""
    n, k, m, batch = (draw(st.integers(1, 4)) for _ in range(4))
    left, right = draw(st.sampled_from([((n, k), (k, m)), ((k,), (k, m)), ((n, k), (k,)),
                                        ((k,), (k,)), ((batch, n, k), (k, m)), ((batch, n, k), (1, k, m))]))
    return (draw(arrays(left)), draw(arrays(right))), {}


@st.composite
def with_axis(draw, **params):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    return (draw(arrays(shape)),), {"axis": draw(st.integers(-len(shape), len(shape) - 1)), **params}


@st.composite
def reshape_operands(draw):
    shape = draw(ANY_SHAPE)
    target = draw(st.sampled_from([tuple(reversed(shape)), (-1,), (1,) + shape]))
    return (draw(arrays(shape)),), {"shape": target}


@st.composite
def transpose_operands(draw):
    shape = draw(ANY_SHAPE)
    axes = draw(st.permutations(range(len(shape))))
    return (draw(arrays(shape)),), {"axes": tuple(axes)}


@st.composite
def broadcast_operands(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    return (draw(arrays(shape)),), {"shape": (2,) + shape}


@st.composite
def index_operands(draw):
    """An array and an index into it: basic (ints, slices, None, ...), integer arrays (which repeat
    places, so gradients must add up), a bool mask, or a slice beside an integer array."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    small = hnp.array_shapes(min_dims=1, max_dims=2, max_side=3)
    index = draw(st.one_of(
        hnp.basic_indices(shape, allow_newaxis=True),
        hnp.integer_array_indices(shape, result_shape=small),
        hnp.arrays(np.bool_, shape),
        hnp.arrays(np.int64, small, elements=st.integers(-shape[-1], shape[-1] - 1)).map(
            lambda picks: (slice(None, None, -1),) * (len(shape) - 1) + (picks,))))
    return (draw(arrays(shape)),), {"index": index}


@st.composite
def apart(draw):
    """Two broadcastable arrays whose elements never tie: a on a grid of 0.01, b halfway between
    (maximum and minimum have a kink at a tie, tested by hand instead)."""
    pair = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
    a = draw(arrays(pair.input_shapes[0], DISTINCT))
    b = draw(arrays(pair.input_shapes[1], DISTINCT.map(lambda v: v + 0.005)))
    return (a, b), {}


@st.composite
def where_operands(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=4)).input_shapes
    condition = draw(hnp.arrays(np.bool_, shapes[0]))
    return (draw(arrays(shapes[1])), draw(arrays(shapes[2]))), {"condition": condition}


@st.composite
def join_operands(draw, new_axis):
    """One to three arrays that cat (sizes differ along axis) or stack (one shape) can join."""
    shape = draw(hnp.array_shapes(min_dims=0 if new_axis else 1, max_dims=3, max_side=3))
    ndim = len(shape) + new_axis
    axis = draw(st.integers(-ndim, ndim - 1))
    count = draw(st.integers(1, 3))
    if new_axis:
        shapes = [shape] * count
    else:
        sizes = draw(st.lists(st.integers(0, 3), min_size=count, max_size=count))
        shapes = [shape[:axis % ndim] + (n,) + shape[axis % ndim + 1:] for n in sizes]
    return tuple(draw(arrays(s)) for s in shapes), {"axis": axis}


@st.composite
def split_operands(draw):
    (x,), params = draw(with_axis())
    length = x.shape[params["axis"]]
    cuts = st.lists(st.integers(0, length), min_size=1, max_size=3)
    sections = cuts.map(lambda at: np.diff(sorted([0, length] + at)).tolist())
    return (x,), {**params, "size_or_sections": draw(st.one_of(st.integers(1, 4), sections))}


@st.composite
def squeeze_operands(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=2))
    ndim = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1), st.permutations(range(ndim)).map(tuple)) if ndim
                else st.none())
    return (draw(arrays(shape)),), {"axis": axis}


@st.composite
def unsqueeze_operands(draw):
    shape = draw(ANY_SHAPE)
    return (draw(arrays(shape)),), {"axis": draw(st.integers(-len(shape) - 1, len(shape)))}


@st.composite
def flatten_operands(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, max_side=3))
    ndim = len(shape)
    start = draw(st.integers(0, ndim - 1))
    end = draw(st.integers(start, ndim - 1))
    return (draw(arrays(shape)),), {"start_axis": start - draw(st.sampled_from([0, ndim])), "end_axis": end}


@st.composite
def flip_operands(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    ndim = len(shape)
    several = st.lists(st.integers(0, ndim - 1), unique=True, min_size=1).map(tuple)
    axis = draw(st.one_of(st.integers(-ndim, ndim - 1), several))
    return (draw(arrays(shape)),), {"axis": axis}


@st.composite
def pad_operands(draw):
    shape = draw(ANY_SHAPE)
    widths = st.tuples(st.integers(0, 2), st.integers(0, 2))
    per_axis = st.tuples(*[widths] * len(shape)) if shape else st.nothing()
    pad_width = draw(st.one_of(st.integers(0, 2), widths, per_axis))
    return (draw(arrays(shape)),), {"pad_width": pad_width, "value": draw(REAL)}


@st.composite
def expand_operands(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    target = tuple(draw(st.sampled_from([-1, n] if n != 1 else [-1, 1, 3])) for n in shape)
    return (draw(arrays(shape)),), {"shape": draw(st.sampled_from([(), (2,)])) + target}


# Quarters from -16 to 16: float16 holds each exactly and sums of them nearly so, so var and std
# in float16 do not lose the small differences between neighbours that DISTINCT's grid has.
QUARTERS = st.integers(-64, 64).map(lambda k: k / 4)


@st.composite
def var_operands(draw, min_count):
    """A reduction's operands plus a correction that leaves n - correction > 0, where n counts the
    elements reduced together and is at least min_count; elements distinct, so no variance is 0."""
    (x,), params = draw(reduction(QUARTERS, unique=True).filter(lambda drawn: _count(*drawn) >= min_count))
    correction = draw(st.sampled_from([0, 1] if _count((x,), params) > 1 else [0]))
    return (x,), {**params, "correction": correction}


def _count(arrays, params):
    x, axis = arrays[0], params["axis"]
    axes = range(x.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    return int(np.prod([x.shape[a] for a in axes]))


@st.composite
def conv_operands(draw, bias=False):
    """A small image batch (N, C, H, W), kernels that fit it, and a stride and padding (int or pair)."""
    n, c, out_channels = (draw(st.integers(1, 2)) for _ in range(3))
    h, w = draw(st.integers(2, 5)), draw(st.integers(2, 5))
    padding = draw(st.sampled_from([0, 1, (0, 1)]))
    pad_h, pad_w = (padding, padding) if isinstance(padding, int) else padding
    kh, kw = draw(st.integers(1, min(3, h + 2 * pad_h))), draw(st.integers(1, min(3, w + 2 * pad_w)))
    stride = draw(st.sampled_from([1, 2, (2, 1)]))
    operands = (draw(arrays((n, c, h, w))), draw(arrays((out_channels, c, kh, kw))))
    operands += (draw(arrays((out_channels,))),) if bias else ()
    return operands, {"stride": stride, "padding": padding}


@st.composite
def pool_operands(draw, elements=REAL, unique=False):
    """An image batch, a kernel that fits it and a stride (None: the kernel's size)."""
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kernel = draw(st.integers(1, min(3, h))), draw(st.integers(1, min(3, w)))
    kernel = kernel[0] if kernel[0] == kernel[1] else kernel  # an int too
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w)
    return (draw(arrays(shape, elements, unique)),), {"kernel_size": kernel,
                                                      "stride": draw(st.sampled_from([None, 1, 2, (1, 2)]))}


@dataclass(frozen=True)
class Op:
    name: str
    fn: Callable          # fn(*tensors, **params)
    inputs: st.SearchStrategy  # draws (arrays, params)

    def __repr__(self):
        return self.name


OPS = [
    Op("add", lambda a, b: a + b, binary()),
    Op("sub", lambda a, b: a - b, binary()),
    Op("mul", lambda a, b: a * b, binary()),
    Op("div", lambda a, b: a / b, binary(right=NONZERO)),
    Op("neg", lambda x: -x, unary()),
    Op("pow_int", lambda x, k: x ** k, unary(k=3)),
    Op("pow_real", lambda x, k: x ** k, unary(POSITIVE, k=-1.5)),
    Op("matmul", lambda a, b: a @ b, matmul_operands()),
    Op("sigmoid", lambda x: x.sigmoid(), unary()),
    Op("tanh", lambda x: x.tanh(), unary()),
    Op("relu", lambda x: x.relu(), unary(away_from(0))),
    Op("exp", lambda x: x.exp(), unary()),
    Op("log", lambda x: x.log(), unary(POSITIVE)),
    Op("square", lambda x: x.square(), unary()),
    Op("sqrt", lambda x: x.sqrt(), unary(POSITIVE)),
    Op("abs", lambda x: x.abs(), unary(away_from(0))),
    Op("clip", lambda x, low, high: x.clip(low, high), unary(away_from(-1, 1), low=-1, high=1)),
    Op("sum", lambda x, axis, keepdims: x.sum(axis, keepdims), reduction()),
    Op("mean", lambda x, axis, keepdims: x.mean(axis, keepdims), reduction()),
    Op("max", lambda x, axis, keepdims: x.max(axis, keepdims), reduction(DISTINCT, unique=True)),
    Op("reshape", lambda x, shape: x.reshape(shape), reshape_operands()),
    Op("transpose", lambda x, axes: x.transpose(axes), transpose_operands()),
    Op("T", lambda x: x.T, unary()),
    Op("broadcast_to", lambda x, shape: x.broadcast_to(shape), broadcast_operands()),
    Op("softmax", lambda x, axis: x.softmax(axis), with_axis()),
    Op("log_softmax", lambda x, axis: x.log_softmax(axis), with_axis()),
    Op("pow_tensor", lambda a, b: a ** b, binary(left=POSITIVE)),
    Op("rpow", lambda x: 2 ** x, unary()),
    Op("sin", lambda x: x.sin(), unary()),
    Op("cos", lambda x: x.cos(), unary()),
    Op("log1p", lambda x: x.log1p(), unary(st.floats(-0.7, 3))),
    Op("expm1", lambda x: x.expm1(), unary()),
    Op("leaky_relu", lambda x, negative_slope: x.leaky_relu(negative_slope), unary(away_from(0), negative_slope=0.1)),
    Op("elu", lambda x, alpha: x.elu(alpha), unary(away_from(0), alpha=1.5)),
    Op("silu", lambda x: x.silu(), unary()),
    Op("gelu", lambda x: x.gelu(), unary()),
    Op("softplus", lambda x: x.softplus(), unary()),
    Op("logsigmoid", lambda x: x.logsigmoid(), unary()),
    Op("min", lambda x, axis, keepdims: x.min(axis, keepdims), reduction(DISTINCT, unique=True)),
    Op("var", lambda x, axis, keepdims, correction: x.var(axis, keepdims, correction), var_operands(min_count=1)),
    Op("std", lambda x, axis, keepdims, correction: x.std(axis, keepdims, correction), var_operands(min_count=2)),
    Op("logsumexp", lambda x, axis, keepdims: x.logsumexp(axis, keepdims), reduction()),
    Op("cumsum", lambda x, axis: x.cumsum(axis), with_axis()),
    # To long double and back: both casts run, and finite differences lose nothing on the way.
    Op("astype", lambda x: x.astype(np.longdouble).astype(x.dtype), unary()),
    Op("getitem", lambda x, index: x[index], index_operands()),
    Op("where", lambda a, b, condition: where(condition, a, b), where_operands()),
    Op("maximum", lambda a, b: maximum(a, b), apart()),
    Op("minimum", lambda a, b: minimum(a, b), apart()),
    Op("cat", lambda *xs, axis: cat(xs, axis), join_operands(new_axis=False)),
    Op("stack", lambda *xs, axis: stack(xs, axis), join_operands(new_axis=True)),
    # split gives a tuple; each piece is scaled differently and joined again, so each gradient is checked.
    Op("split", lambda x, size_or_sections, axis: cat([p * (i + 1) for i, p in
                                                       enumerate(x.split(size_or_sections, axis))], axis),
       split_operands()),
    Op("squeeze", lambda x, axis: x.squeeze(axis), squeeze_operands()),
    Op("unsqueeze", lambda x, axis: x.unsqueeze(axis), unsqueeze_operands()),
    Op("flatten", lambda x, start_axis, end_axis: x.flatten(start_axis, end_axis), flatten_operands()),
    Op("flip", lambda x, axis: x.flip(axis), flip_operands()),
    Op("pad", lambda x, pad_width, value: x.pad(pad_width, value), pad_operands()),
    Op("permute", lambda x, axes: x.permute(*axes), transpose_operands()),
    Op("expand", lambda x, shape: x.expand(*shape), expand_operands()),
    Op("view", lambda x, shape: x.view(shape), reshape_operands()),
    # conv.py: convolution and pooling
    Op("conv2d", lambda x, w, stride, padding: x.conv2d(w, stride=stride, padding=padding), conv_operands()),
    Op("conv2d_bias", lambda x, w, b, stride, padding: x.conv2d(w, b, stride, padding), conv_operands(bias=True)),
    Op("max_pool2d", lambda x, kernel_size, stride: x.max_pool2d(kernel_size, stride),
       pool_operands(DISTINCT, unique=True)),
    Op("avg_pool2d", lambda x, kernel_size, stride: x.avg_pool2d(kernel_size, stride), pool_operands()),
]
