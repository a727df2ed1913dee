"""Every op in op_table.OPS: gradients and second derivatives against finite differences.

gradcheck backpropagates a random projection of the op's output, so the
upstream gradient is never all ones and every output element is exercised.
"""
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given

from op_table import OPS
from tinygrad_edu import Tensor, gradcheck, gradgradcheck, no_grad


def _tensors(data, arrays):
    """The arrays as float64 Tensors, a random non-empty subset of them requiring grad."""
    wanted = data.draw(st.lists(st.booleans(), min_size=len(arrays), max_size=len(arrays)).filter(any))
    return [Tensor(a, requires_grad=w, dtype=np.float64) for a, w in zip(arrays, wanted)]


@pytest.mark.parametrize("op", OPS, ids=repr)
@given(data=st.data())
def test_gradient_matches_finite_differences(op, data):
    arrays, params = data.draw(op.inputs)
    assert gradcheck(lambda *xs: op.fn(*xs, **params), _tensors(data, arrays))


@pytest.mark.parametrize("op", OPS, ids=repr)
@given(data=st.data())
def test_second_derivative_matches_finite_differences(op, data):
    arrays, params = data.draw(op.inputs)
    assert gradgradcheck(lambda *xs: op.fn(*xs, **params), _tensors(data, arrays))


@pytest.mark.parametrize("op", OPS, ids=repr)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@given(data=st.data())
def test_dtype_is_kept_through_forward_and_backward(op, dtype, data):
    arrays, params = data.draw(op.inputs)
    tensors = [Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
    out = op.fn(*tensors, **params)
    assert out.dtype == dtype
    out.backward(np.ones(out.shape, dtype=dtype))
    assert all(t.grad.dtype == dtype and t.grad.shape == t.shape for t in tensors)


@pytest.mark.parametrize("op", OPS, ids=repr)
@given(data=st.data())
def test_no_grad_records_nothing_and_computes_the_same(op, data):
    arrays, params = data.draw(op.inputs)
    recorded = op.fn(*[Tensor(a, requires_grad=True, dtype=np.float64) for a in arrays], **params)
    with no_grad():
        plain = op.fn(*[Tensor(a, dtype=np.float64) for a in arrays], **params)
    assert plain.op is None and not plain.requires_grad
    np.testing.assert_array_equal(recorded.data, plain.data)


@pytest.mark.parametrize("op", OPS, ids=repr)
@given(data=st.data())
def test_float16_gradients_are_finite_and_near_float64s(op, data):
    arrays, params = data.draw(op.inputs)
    grads = {}
    for dtype in (np.float16, np.float64):
        tensors = [Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
        out = op.fn(*tensors, **params)
        out.backward(np.ones(out.shape, dtype=dtype))
        grads[dtype] = [t.grad.data for t in tensors]
    for half, double in zip(grads[np.float16], grads[np.float64]):
        assert np.isfinite(half).all()
        np.testing.assert_allclose(half.astype(np.float64), double, rtol=2e-2, atol=2e-2)
