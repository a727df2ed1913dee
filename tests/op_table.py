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
    # conv.py: convolution and pooling
    Op("conv2d", lambda x, w, stride, padding: x.conv2d(w, stride=stride, padding=padding), conv_operands()),
    Op("conv2d_bias", lambda x, w, b, stride, padding: x.conv2d(w, b, stride, padding), conv_operands(bias=True)),
    Op("max_pool2d", lambda x, kernel_size, stride: x.max_pool2d(kernel_size, stride),
       pool_operands(DISTINCT, unique=True)),
    Op("avg_pool2d", lambda x, kernel_size, stride: x.avg_pool2d(kernel_size, stride), pool_operands()),
]
