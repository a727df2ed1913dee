"""Hostile inputs: what a user who steps off the happy path gets. Never a silently wrong number.

Each case is one line of a table, so a reader can add their own: BAD_CALLS lists calls
that must raise (the exception type and words the message must hold), and the tests
below them pin the answers PyTorch gives where a wrong number used to come out.
"""
import threading

import numpy as np
import pytest

import nn
from tinygrad_edu import AxisError, ShapeError, Tensor, grad


def t(*values, **kw):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=kw.get("requires_grad", True))


# (what is tried, the call, the exception it must raise, words its message must hold)
BAD_CALLS = [
    ("a float axis", lambda: t(1., 2.).sum(axis=1.5), TypeError, "sum: axis must be an int"),
    ("a string axis", lambda: t(1., 2.).mean(axis="0"), TypeError, "mean: axis must be an int"),
    ("a repeated axis", lambda: Tensor(np.ones((2, 2))).sum(axis=(0, 0)), ValueError, "names an axis twice"),
    ("an axis out of range", lambda: t(1., 2.).max(axis=3), AxisError, "axis 3 is out of range for a tensor of shape (2,)"),
    ("a float size", lambda: Tensor(np.ones(6)).reshape(2.5, 3), TypeError, "reshape: sizes must be whole numbers"),
    ("a string size", lambda: Tensor.zeros("3"), TypeError, "zeros: sizes must be whole numbers"),
    ("sizes that don't fit", lambda: Tensor(np.ones(6)).reshape(4, 2), ShapeError, "Reshape"),
    ("matmul of misfit shapes", lambda: Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 3))), ShapeError,
     "matmul: (2, 3) @ (2, 3): the last axis of the left (3) must equal"),
    ("a size too large for NumPy", lambda: Tensor(np.ones(2)).reshape(2 ** 64), ShapeError, "Reshape: operands of shape (2,)"),
    ("a negative size", lambda: Tensor.ones(-1, 3), ValueError, "ones: cannot make a tensor of shape (-1, 3)"),
    ("a new tensor too large for NumPy", lambda: Tensor.zeros(2 ** 64), ValueError,
     "zeros: cannot make a tensor of shape (18446744073709551616,)"),
    ("an exponent too large for a float", lambda: t(1., 2.) ** 10 ** 400, OverflowError,
     "Pow: int too large to convert to float (operands of shape (2,)"),
    ("an int too large for int64", lambda: Tensor([2], dtype=np.int64) * 10 ** 30, OverflowError,
     "does not fit dtype int64"),
    ("a bool exponent", lambda: t(1., 2.) ** True, TypeError, "pow: the exponent must be"),
    ("bool() of several elements", lambda: bool(t(1., 2.)), ValueError, "bool: only a one-element tensor"),
    ("float() of several elements", lambda: float(t(1., 2.)), ValueError, "float: only a one-element tensor"),
    ("strings as data", lambda: Tensor(["a", "b"]), TypeError, "Tensor: data must be numeric"),
    ("ragged rows", lambda: Tensor([[1.0], [1.0, 2.0]]), TypeError, "equal-length rows"),
    ("an int tensor requiring grad", lambda: Tensor([1, 2], dtype=np.int64, requires_grad=True), TypeError,
     "only floating tensors can require grad"),
    ("a raw write into .data", lambda: t(1., 2.).data.__iadd__(10), ValueError, "read-only"),
    ("a raw write through np.asarray", lambda: np.asarray(t(1., 2.)).__setitem__(0, 5), ValueError, "read-only"),
    ("a raw write through .numpy()", lambda: t(1., 2.).numpy().__setitem__(0, 5), ValueError, "read-only"),
    ("a raw write through detach()", lambda: t(1., 2.).detach().data.__setitem__(0, 5), ValueError, "read-only"),
    ("a gradient of the wrong shape", lambda: (t(1., 2.) * 2).backward(np.ones(3)), ShapeError,
     "gradient has shape (3,) but the output has shape (2,)"),
    ("backward twice", lambda: _twice(), RuntimeError, "Pass retain_graph=True"),
]


def _twice():
    y = (t(1., 2.) * t(3., 4.)).sum()
    y.backward()
    y.backward()


@pytest.mark.parametrize("what, call, error, words", BAD_CALLS, ids=[case[0] for case in BAD_CALLS])
def test_bad_calls_raise_clear_errors(what, call, error, words):
    with pytest.raises(error) as caught:
        call()
    assert words in str(caught.value)


def test_an_axis_error_is_an_index_error_too_as_numpys():
    assert issubclass(AxisError, IndexError) and issubclass(AxisError, ValueError)


# --- in-place changes: the values a graph saved cannot change under it -----------------

def test_changing_data_after_forward_cannot_change_the_gradient():
    x = t(1., 2., 3.)
    y = (x * x).sum()
    with pytest.raises(ValueError, match="read-only"):
        x.data += 10
    x.data = x.data + 10  # a new array: the graph keeps the one it saved
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2, 4, 6])


def test_an_ndarray_operand_is_copied_so_changing_it_later_changes_nothing():
    buffer = np.array([1., 2., 3.], np.float32)
    x = Tensor([1., 1., 1.], requires_grad=True)
    y = (x * buffer).sum()
    buffer[:] = 100
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [1, 2, 3])


def test_an_optimiser_step_between_two_backwards_keeps_the_recorded_gradient():
    w = Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    first = w.grad.data.copy()
    nn.SGD([w], lr=0.1).step()
    w.grad = None
    loss.backward()  # the gradient of the loss as it was computed, at the old w
    np.testing.assert_array_equal(w.grad.data, first)
    np.testing.assert_allclose(w.data, [0.8, 1.6])


# --- gradients never share storage, and accumulate as PyTorch's ---------------------------

def test_two_leaves_never_share_a_gradient_array():
    a, b = t(1., 2.), t(3., 4.)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a, b = t(1., 2.), t(3., 4.)
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad and not np.shares_memory(a.grad.data, b.grad.data)


def test_gradients_never_share_the_callers_array_or_a_returned_result():
    x = t(1., 2.)
    seed = np.ones(2)
    (x * 1).backward(seed)
    assert not np.shares_memory(x.grad.data, seed)
    y = x * 1
    g, = grad(y, x, grad_outputs=seed)
    assert not np.shares_memory(g.data, seed) and not np.shares_memory(g.data, x.grad.data)


def test_retained_gradients_accumulate_over_two_backwards():
    x = t(1., 2.)
    y = x * 3
    y.retain_grad()
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    np.testing.assert_array_equal(y.grad.data, [2, 2])
    np.testing.assert_array_equal(x.grad.data, [6, 6])


def test_concurrent_backward_into_one_leaf_loses_no_update():
    w = Tensor(np.ones(50), requires_grad=True)

    def work():
        for _ in range(20):
            (w * 2).sum().backward()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    np.testing.assert_array_equal(w.grad.data, np.full(50, 8 * 20 * 2.0))


def test_no_grad_in_one_thread_leaves_another_recording():
    from tinygrad_edu import no_grad
    x = t(1., 2.)
    results = {}
    inside = threading.Event()
    leave = threading.Event()

    def quiet():
        with no_grad():
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=quiet)
    thread.start()
    inside.wait(5)
    results["here"] = (x * 2).requires_grad
    leave.set()
    thread.join()
    assert results["here"] is True


# --- dtypes: NumPy 2's rules for Python scalars, PyTorch's for mixed tensors ---------------

def test_an_integer_tensor_times_a_float_is_float64_never_truncated():
    out = Tensor([1, 2, 3], dtype=np.int64) * 0.5
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.data, [0.5, 1.0, 1.5])


def test_a_python_number_takes_a_floating_tensors_dtype():
    assert (Tensor([1.0], dtype=np.float32) * 0.1).dtype == np.float32
    assert (Tensor([1.0], dtype=np.float32) * np.float64(0.1)).dtype == np.float32  # a NumPy scalar too


def test_an_integer_tensor_beside_a_floating_one_takes_its_dtype():
    ints = Tensor([1, 2], dtype=np.int64)
    assert (ints + Tensor([0.5, 0.5], dtype=np.float32)).dtype == np.float32
    assert (Tensor([0.5, 0.5], dtype=np.float16) * ints).dtype == np.float16


def test_integer_arithmetic_stays_integer():
    out = Tensor([1, 2], dtype=np.int64) + 3
    assert out.dtype == np.int64 and out.tolist() == [4, 5]


def test_item_gives_an_int_for_an_integer_tensor():
    assert Tensor([7], dtype=np.int64).item() == 7 and isinstance(Tensor([7], dtype=np.int64).item(), int)
    assert isinstance(Tensor(2.5).item(), float) and int(Tensor(2.5)) == 2 and float(Tensor(2.5)) == 2.5


def test_truth_of_a_one_element_tensor():
    assert bool(Tensor([0.0])) is False and bool(Tensor(3.0)) is True


# --- numerics: finite wherever PyTorch's gradient is ---------------------------------------

def test_power_zero_has_gradient_zero_at_zero():
    x = Tensor([0.0], requires_grad=True)
    g, = grad((x ** 0).sum(), x)
    np.testing.assert_array_equal(g.data, [0.0])


def test_max_with_nan_gives_the_gradient_to_the_nan_as_pytorch():
    x = Tensor([1., np.nan, .5], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 1, 0])


def test_cross_entropy_stays_finite_at_the_float_limits():
    logits = Tensor([[3e38, -3e38]], requires_grad=True)
    loss = nn.cross_entropy(logits, np.array([0]))
    loss.backward()
    assert np.isfinite(loss.data).all() and np.isfinite(logits.grad.data).all()
    assert loss.item() == 0.0
    np.testing.assert_array_equal(logits.grad.data, [[0, 0]])  # softmax minus one-hot, as PyTorch


def test_negative_zero_is_kept():
    out = Tensor([1.0]) * -0.0
    assert np.signbit(out.data[0])
    assert not np.signbit((Tensor([1.0]) * 0.0).data[0])


def test_transpose_takes_negative_axes():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.transpose(-1, 0).data, x.data.T)


def test_anomaly_mode_blames_the_users_line_not_the_nn_library():
    from tinygrad_edu import AnomalyError, detect_anomaly
    layer = nn.Linear(2, 1, bias=False)
    layer.weight.data = np.array([[np.inf], [-np.inf]], dtype=np.float32)
    with pytest.raises(AnomalyError) as caught, detect_anomaly():
        layer(Tensor([[1.0, 1.0]]))  # inf - inf inside Linear's matmul
    assert "layer(Tensor([[1.0, 1.0]]))" in str(caught.value) and "nn/module.py" not in str(caught.value)


def test_an_integer_constant_too_large_for_the_tensors_dtype_is_named():
    with pytest.raises(OverflowError, match="1000 out of bounds for int8"):
        Tensor([1], dtype=np.int8) + 1000


@pytest.mark.parametrize("dtype, low", [(np.float64, -700.0), (np.float32, -87.0)])
def test_sigmoid_is_within_4_ulp_wherever_the_result_is_normal_and_quiet_at_1000(dtype, low):
    x = np.linspace(low, 30, 50_001).astype(dtype)
    exact = 1 / (1 + np.exp(-x.astype(np.longdouble)))  # extended precision as the reference
    got = Tensor(x, dtype=dtype).sigmoid().data
    normal = exact > np.finfo(dtype).tiny
    ulps = np.abs(got[normal] - exact[normal]) / np.spacing(exact[normal].astype(dtype))
    assert ulps.max() <= 4
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # NumPy never warns of underflow
        np.testing.assert_array_equal(Tensor([-1000.0, 1000.0], dtype=dtype).sigmoid().data, [0.0, 1.0])


def test_assigning_data_hands_an_owned_array_over_and_copies_a_view():
    x = Tensor([1.0, 2.0])
    fresh = np.array([3.0, 4.0])
    x.data = fresh
    with pytest.raises(ValueError, match="read-only"):
        fresh[0] = 100  # handed over: the caller can no longer change the tensor through it
    base = np.zeros(4)
    x.data = base[:2]
    base[:] = 7
    np.testing.assert_array_equal(x.data, [0, 0])  # a view is copied, its base stays writeable
