"""gradcheck and gradgradcheck on hand-written ops: right ones pass, and for a wrong one the
error names the input, the element and both values. (test_ops.py runs every built-in op.)"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinygrad_edu import Function, GradcheckError, Tensor, gradcheck, gradgradcheck, no_grad
from tinygrad_edu.testing import shapes, tensors


class Reciprocal(Function):
    """1/x, written the way a user writes an op."""

    @staticmethod
    def forward(ctx, x):
        out = 1 / x
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return -g * out * out


def reciprocal_wrong_at(index, factor):
    """1/x, with a backward off by `factor` in the one element at `index`."""
    class ReciprocalWrongAt(Reciprocal):
        @staticmethod
        def backward(ctx, g):
            grad = Reciprocal.backward(ctx, g)  # a fresh ndarray in a plain backward
            grad[index] *= factor
            return grad
    return ReciprocalWrongAt


@given(st.data())
def test_names_the_input_and_element_whose_gradient_is_wrong(data):
    shape = data.draw(shapes(min_dims=1), label="shape")
    index = tuple(data.draw(st.integers(0, n - 1), label="wrong element") for n in shape)
    a = data.draw(tensors(shape, dtype=np.float64, min_magnitude=0.5, name="a"), label="a")
    b = data.draw(tensors(shape, dtype=np.float64, min_magnitude=0.5, name="b"), label="b")
    reciprocal = reciprocal_wrong_at(index, 1.5)
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda a, b: a * reciprocal.apply(b), [a, b])
    error, right = caught.value, -a.data[index] / b.data[index] ** 2
    assert (error.input_position, error.input_name, error.input_index, error.output_index) == (1, "b", index, index)
    assert error.analytic == pytest.approx(1.5 * right) and error.numeric == pytest.approx(right)
    assert f"with respect to input 1 ('b') at index {index} is {error.analytic:.10g} by backward" in str(error)
    assert "1 of" in str(error) and "That is the largest error" in str(error)


class CumulativeSum(Function):
    """out[i] = x[0] + ... + x[i]; the backward forgets that out[-1] depends on x[0]."""

    @staticmethod
    def forward(ctx, x):
        return np.cumsum(x)

    @staticmethod
    def backward(ctx, g):
        grad = np.cumsum(g[::-1])[::-1]
        grad[0] -= g[-1]
        return grad


def test_checks_every_output_element_and_names_it():
    x = Tensor([0.5, -1.0, 2.0, 1.5], requires_grad=True)
    with pytest.raises(GradcheckError, match=r"the output at index \(3,\) with respect to input 0 at index \(0,\) "
                                             r"is 0 by backward but 1 by central differences"):
        gradcheck(CumulativeSum.apply, [x])


def test_a_function_of_several_outputs_names_the_output():
    x = Tensor([0.5, -1.0, 2.0], requires_grad=True)
    assert gradcheck(lambda x: (x.tanh(), x * x), [x])
    with pytest.raises(GradcheckError, match="the gradient of output 1 at index"):
        gradcheck(lambda x: (x.tanh(), CumulativeSum.apply(x)), [x])


def test_passes_a_right_op_in_float64_and_leaves_the_inputs_alone():
    x = Tensor([[0.3, -1.2], [2.0, 0.7]], requires_grad=True)
    w = Tensor([0.5, -0.25], requires_grad=True, name="w")
    before = x.data.copy()
    assert gradcheck(lambda x, w: ((x * w).sigmoid() @ w).exp(), [x, w])
    assert x.dtype == np.float32 and np.array_equal(x.data, before) and x.grad is None and w.grad is None


def test_float32_would_be_too_coarse_for_the_difference_quotient():
    """Why gradcheck promotes: in float32 the quotient at eps=1e-6 is off far beyond atol."""
    x = np.float32(0.7)
    float32_quotient = (np.exp(x + np.float32(1e-6)) - np.exp(x - np.float32(1e-6))) / np.float32(2e-6)
    assert abs(float32_quotient - np.exp(0.7)) > 1e-3
    assert gradcheck(lambda t: t.exp(), [Tensor([0.7], requires_grad=True)])


def test_a_nan_gradient_fails_rather_than_passing():
    with pytest.raises(GradcheckError, match="is nan by backward but -0.25 by central differences"):
        gradcheck(lambda x: reciprocal_wrong_at((1,), np.nan).apply(x).sum(), [Tensor([1.0, 2.0], requires_grad=True)])


def test_at_a_kink_the_message_says_fn_has_no_derivative_there():
    x = Tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(GradcheckError, match="may not be differentiable there: a step up gives slope 1, "
                                             "a step down 0"):
        gradcheck(lambda x: x.relu(), [x])


def test_raise_exception_false_returns_false():
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert gradcheck(reciprocal_wrong_at((0,), 2.0).apply, [x], raise_exception=False) is False


def test_an_unused_input_has_gradient_zero():
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0], requires_grad=True)
    assert gradcheck(lambda a, b: a * 2, [a, b])
    assert gradcheck(lambda a: Tensor([1.0, 2.0]), [a])


def test_misuse_gets_a_clear_error():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="no input is a Tensor that requires grad"):
        gradcheck(lambda t: t * 2, [Tensor([1.0])])
    with pytest.raises(TypeError, match="fn must return a Tensor or a tuple of Tensors, got ndarray"):
        gradcheck(lambda t: t.data * 2, [x])
    with pytest.raises(RuntimeError, match="under no_grad"), no_grad():
        gradcheck(lambda t: t * 2, [x])


class ReciprocalWithConstantSlope(Reciprocal):
    """A right first derivative from a backward that leaves the graph (np.asarray), so
    the derivative of that backward, the second derivative of 1/x, comes out as zero."""

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return -g * np.asarray(out) ** 2


def test_gradgradcheck_checks_second_derivatives():
    x = Tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True, name="x")
    w = Tensor([1.5, -0.5], requires_grad=True)
    assert gradgradcheck(lambda x, w: (x @ w).tanh() * x.sum(), [x, w])
    assert gradcheck(ReciprocalWithConstantSlope.apply, [x])
    with pytest.raises(GradcheckError, match=r"gradgradcheck: the gradient of the gradient for input 0 \('x'\) "
                                             r"at index \(.+\) with respect to input 0 \('x'\)"):
        gradgradcheck(ReciprocalWithConstantSlope.apply, [x])
