"""The engine: the article's worked example, accumulation, depth, memory, grad modes, errors."""
import gc
import threading
import warnings
import weakref

import numpy as np
import pytest

from tinygrad_edu import Function, ShapeError, Tensor, grad, gradcheck, no_grad

# The article's worked example (../shared/ARTICLE.md), printed to 8 decimals, sometimes truncated.
ARTICLE_TOLERANCE = 2e-8
X = [[1.76405235, 0.40015721]]
Y = [[1, 0]]
W1 = [[-0.67746455, 0.37769425, -0.07365253], [-0.53663519, 0.60920496, 0.21149622]]
W2 = [[-0.41491732, -0.30992816], [-0.31583913, -0.27706468], [-0.44701662, 0.15231059]]


def article_network():
    x, y = Tensor(X, dtype=np.float64), Tensor(Y, dtype=np.float64)
    w1 = Tensor(W1, dtype=np.float64, requires_grad=True, name="W1")
    w2 = Tensor(W2, dtype=np.float64, requires_grad=True, name="W2")
    h1 = (x @ w1).sigmoid()
    h2 = (h1 @ w2).sigmoid()
    loss = ((y - h2) ** 2).sum() / 2
    return loss, h1, h2, w1, w2


def test_article_worked_example_to_its_printed_digits():
    loss, h1, h2, w1, w2 = article_network()
    loss.backward()
    close = dict(rtol=0, atol=ARTICLE_TOLERANCE)
    np.testing.assert_allclose(h1.data, [[0.19626223, 0.71301043, 0.48867814]], **close)
    np.testing.assert_allclose(h2.data, [[0.37166596, 0.45414264]], **close)
    np.testing.assert_allclose(w2.grad.data, [[-0.02879856, 0.02209533], [-0.10462365, 0.08027117],
                                              [-0.07170623, 0.0550157]], **close)
    np.testing.assert_allclose(w1.grad.data, [[0.00723246, 0.00546965, 0.03647082],
                                              [0.00164061, 0.00124073, 0.00827303]], **close)


def test_article_intermediate_factors_with_retain_grad():
    loss, h1, h2, w1, w2 = article_network()
    h1.retain_grad()
    h2.retain_grad()
    loss.backward()
    np.testing.assert_allclose(h2.grad.data, [[-0.62833404, 0.45414264]], atol=ARTICLE_TOLERANCE)
    np.testing.assert_allclose(h1.grad.data, [[0.02599101, 0.01515256, 0.08274025]], atol=ARTICLE_TOLERANCE)


def test_gradients_accumulate_when_a_tensor_is_used_twice():
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, -3.0, 7.0])


def test_diamond_sums_both_paths():
    x = Tensor([0.5, 2.0], requires_grad=True, dtype=np.float64)
    a = x.exp()
    b, c = a * 3, a.square()
    (b + c).sum().backward()
    e = np.exp([0.5, 2.0])
    np.testing.assert_allclose(x.grad.data, 3 * e + 2 * e * e)


def test_backward_accumulates_across_calls_until_zero_grad():
    x = Tensor([2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [6.0])
    x.zero_grad()
    assert x.grad is None


def test_a_chain_of_100000_ops_backpropagates_without_recursion():
    x = Tensor([0.5], requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(100_000):
        y = y * 0.99999 + 0.00001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.99999 ** 100_000], rtol=1e-9)


def test_broadcasting_is_undone_in_the_gradient():
    a = Tensor(np.ones((4, 1, 3)), requires_grad=True)
    b = Tensor(np.arange(3.0), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (4, 1, 3) and b.grad.shape == (3,)
    np.testing.assert_allclose(a.grad.data, np.broadcast_to(np.arange(3.0), (4, 1, 3)))
    np.testing.assert_allclose(b.grad.data, [4.0, 4.0, 4.0])


class _KeepsAScratchArray(Function):
    """Saves an array that only the graph refers to, so a weakref shows when it is freed."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(np.full(x.shape, 2.0))
        return x * 2

    @staticmethod
    def backward(ctx, g):
        two, = ctx.saved_tensors
        return g * two


def test_saved_arrays_are_released_after_backward():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = _KeepsAScratchArray.apply(x)
    saved = weakref.ref(y.op.saved_tensors[0])
    y.sum().backward()
    gc.collect()
    assert saved() is None
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])


def test_a_second_backward_asks_for_retain_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_keeps_the_graph_for_another_backward():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, [4.0, 8.0])


def test_the_whole_graph_is_freed_when_the_result_goes():
    x = Tensor(np.ones(3), requires_grad=True)
    loss = (x.sigmoid() * 2).sum()
    node = weakref.ref(loss.op)
    loss.backward()
    del loss
    assert node() is None  # no reference cycles: plain reference counting frees it


class _RecordsItsGradient(Function):
    """Identity whose backward makes a fresh gradient and keeps a reference to it."""
    made = None

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        fresh = g * 1.0
        _RecordsItsGradient.made = fresh
        return fresh


class _ReturnsAnArrayItKeeps(Function):
    """Identity whose backward hands out the same array every time (like a user op with a cached constant)."""
    kept = np.ones(3)

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return _ReturnsAnArrayItKeeps.kept


def test_a_leafs_grad_is_its_own_array_not_the_one_an_op_returned():
    x = Tensor(np.ones(3), requires_grad=True)
    _RecordsItsGradient.apply(x).backward(np.full(3, 2.0))
    assert not np.shares_memory(x.grad.data, _RecordsItsGradient.made)
    x.grad = None
    (g,) = grad(_RecordsItsGradient.apply(x), x, grad_outputs=np.full(3, 2.0))
    assert not np.shares_memory(g.data, _RecordsItsGradient.made)


def test_a_gradient_shared_with_anything_else_is_copied_before_a_leaf_keeps_it():
    # Add hands one array to both inputs; a reshape's gradient is a view; the caller keeps its array.
    a, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.data, b.grad.data)
    upstream = np.arange(6.0)
    x, w = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones(6), requires_grad=True)
    (x.reshape(6) + w).backward(upstream)
    assert not np.shares_memory(x.grad.data, upstream) and not np.shares_memory(w.grad.data, upstream)
    y = Tensor(np.ones(3), requires_grad=True)
    _ReturnsAnArrayItKeeps.apply(y).backward(np.ones(3))
    assert y.grad.data is not _ReturnsAnArrayItKeeps.kept
    # Accumulating in place into each leaf's own buffer then changes nothing else.
    (a + b).sum().backward()
    _ReturnsAnArrayItKeeps.apply(y).backward(np.ones(3))
    np.testing.assert_array_equal(a.grad.data, [2, 2, 2])
    np.testing.assert_array_equal(b.grad.data, [2, 2, 2])
    np.testing.assert_array_equal(upstream, np.arange(6.0))
    np.testing.assert_array_equal(_ReturnsAnArrayItKeeps.kept, np.ones(3))
    np.testing.assert_array_equal(y.grad.data, [2, 2, 2])


def test_a_retained_gradient_of_a_0d_result_is_an_ndarray():
    # NumPy answers arithmetic on 0-d arrays with scalars; .grad.data must still be an ndarray.
    x = Tensor([1.0, 2.0], requires_grad=True)
    total = x.sum()
    total.retain_grad()
    (total * 2).backward()
    assert type(total.grad.data) is np.ndarray and total.grad.data.shape == ()
    assert total.grad.item() == 2.0


def test_grad_returns_one_gradient_per_input_even_when_an_input_repeats():
    x = Tensor([1.0, 2.0], requires_grad=True)
    gx, gx_again = grad((x * x).sum(), [x, x])
    np.testing.assert_allclose(gx.data, [2.0, 4.0])
    np.testing.assert_allclose(gx_again.data, [2.0, 4.0])


def test_no_grad_records_nothing_and_works_as_a_decorator():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf

    @no_grad()
    def double(t):
        return t * 2
    assert not double(x).requires_grad
    assert (x * 2).requires_grad


def test_no_grad_is_per_thread():
    x = Tensor([1.0], requires_grad=True)
    inside, other_thread_records = threading.Event(), []

    def other():
        inside.wait()
        other_thread_records.append((x * 2).requires_grad)

    worker = threading.Thread(target=other)
    worker.start()
    with no_grad():
        inside.set()
        worker.join()
        assert not (x * 2).requires_grad
    assert other_thread_records == [True]


def test_hessian_vector_product_by_double_backward():
    x = Tensor([0.3, -1.2, 2.0], requires_grad=True, dtype=np.float64)
    v = np.array([1.0, 0.5, -2.0])
    f = (x.tanh() * x).sum()                     # f = sum(x tanh x)
    g, = grad(f, x, create_graph=True)
    hv, = grad((g * v).sum(), x)
    t = np.tanh(x.data)
    hessian_diagonal = 2 * (1 - t * t) - 2 * x.data * t * (1 - t * t)
    np.testing.assert_allclose(hv.data, hessian_diagonal * v, rtol=1e-12)


def test_backward_with_create_graph_gives_differentiable_grads():
    x = Tensor([2.0], requires_grad=True, dtype=np.float64)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    second, = grad(x.grad.sum(), x)
    np.testing.assert_allclose(second.data, [12.0])


def test_grad_leaves_dot_grad_alone_and_reaches_non_leaves():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    gx, gh = grad(y, [x, h])
    assert x.grad is None
    np.testing.assert_allclose(gh.data, 2 * h.data)
    np.testing.assert_allclose(gx.data, 18 * x.data)


def test_grad_refuses_an_unused_input_unless_allowed():
    x, unused = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        grad((x * 2).sum(), [x, unused], retain_graph=True)
    assert grad((x * 2).sum(), [x, unused], allow_unused=True)[1] is None


def test_operands_mix_tensors_scalars_and_arrays_on_either_side():
    x = Tensor([1.0, 2.0], requires_grad=True)
    array = np.array([10.0, 20.0], dtype=np.float32)
    results = [x + 1, 1 + x, x - array, array - x, x * 2, 2 * x, x / 2, 2 / x, array * x, x @ array, array @ x]
    assert all(isinstance(r, Tensor) and r.requires_grad for r in results)
    np.testing.assert_allclose((array - x).data, [9.0, 18.0])
    np.testing.assert_allclose((2 / x).data, [2.0, 1.0])
    sum(r.sum() for r in results).backward()
    assert x.grad.shape == (2,)


def test_numpy_ufuncs_on_tensors_run_as_ops():
    x = Tensor([0.5, 1.0], requires_grad=True, dtype=np.float64)
    y = np.tanh(np.exp(x) * 2)
    assert isinstance(y, Tensor) and y.op.name == "Tanh"
    assert gradcheck(lambda t: np.sqrt(np.square(np.tanh(t)) + 1), [x])
    assert not np.greater(x, 0.7).requires_grad
    with pytest.raises(TypeError, match="np.arcsin has no gradient"):
        np.arcsin(x)


def test_custom_function_is_used_like_a_built_in_op():
    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 3 * x * x

    x = Tensor([1.5, -0.5], requires_grad=True, dtype=np.float64)
    assert gradcheck(Cube.apply, [x])
    from tinygrad_edu import gradgradcheck
    assert gradgradcheck(Cube.apply, [x])  # the same backward, run on Tensors


@pytest.mark.parametrize("make", [
    lambda t: t.sigmoid(), lambda t: t.softmax(), lambda t: t.log_softmax(), lambda t: t.tanh()])
def test_stable_at_plus_and_minus_1000(make):
    x = Tensor([1000.0, -1000.0, 0.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = make(x)
        out.backward(np.ones(3, dtype=np.float32))
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad.data))


def test_constructor_dtype_rules():
    assert Tensor(1.5).dtype == np.float32
    assert Tensor([[1, 2]]).dtype == np.float32
    assert Tensor([True, False]).dtype == np.float32
    assert Tensor(np.arange(3)).dtype == np.float32
    assert Tensor(np.ones(2, dtype=np.float64)).dtype == np.float64
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64
    assert Tensor(Tensor([1.0], dtype=np.float64)).dtype == np.float64
    assert Tensor.randn(2, 3, seed=0).shape == (2, 3)
    assert Tensor.zeros((2, 3), dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(Tensor.randn(4, seed=7).data, Tensor.randn(4, seed=7).data)
    u = Tensor.uniform(1000, low=2.0, high=3.0, seed=0)
    assert 2.0 <= u.data.min() and u.data.max() < 3.0


def test_constructor_copies_so_training_never_changes_the_users_array():
    source = np.ones(3)
    t = Tensor(source)
    t.data = t.data + 1
    np.testing.assert_array_equal(source, np.ones(3))
    source[0] = 5
    np.testing.assert_array_equal(t.data, [2, 2, 2])


def test_attributes_and_conversions():
    t = Tensor([[1.0, 2.0, 3.0]], requires_grad=True, name="w")
    assert (t.shape, t.ndim, t.size, t.is_leaf) == ((1, 3), 2, 3, True)
    assert np.asarray(t) is t.data and t.numpy() is t.data
    assert Tensor([[4.0]]).item() == 4.0
    assert "name='w'" in repr(t) and "shape=(1, 3)" in repr(t)
    assert "op=Sigmoid" in repr(t.sigmoid())
    assert t.T.shape == (3, 1)
    d = t.detach()
    assert not d.requires_grad and d.data is t.data


@pytest.mark.parametrize("bad, message", [
    ("text", "numeric"), (["a", "b"], "numeric"), ([[1, 2], [3]], "equal-length"),
    (np.array([object(), 1], dtype=object), "numeric"), ({"a": 1}, "numeric"), (1 + 2j, "numeric"),
])
def test_non_numeric_data_is_refused_clearly(bad, message):
    with pytest.raises(TypeError, match=message):
        Tensor(bad)


def test_requires_grad_on_integer_data_is_refused():
    with pytest.raises(TypeError, match="only floating tensors can require grad"):
        Tensor([1, 2], dtype=np.int64, requires_grad=True)
    with pytest.raises(TypeError, match="only floating"):
        Tensor([1, 2], dtype=np.int32).requires_grad_()


def test_shape_errors_name_the_op_and_both_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5)))
    with pytest.raises(ShapeError, match=r"Add: .*\(2, 3\) and \(4, 5\)"):
        a + b
    with pytest.raises(ShapeError, match=r"matmul: \(2, 3\) @ \(4, 5\): the last axis of the left \(3\)"):
        a @ b
    with pytest.raises(ShapeError, match="Reshape"):
        a.reshape(4, 2)
    with pytest.raises(ShapeError, match=r"sum: axis 5 is out of range .*\(2, 3\)"):
        a.sum(axis=5)
    with pytest.raises(ShapeError, match=r"log_softmax: axis -3 is out of range .*\(2, 3\)"):
        a.log_softmax(axis=-3)
    with pytest.raises(ValueError):  # ShapeError is a ValueError
        a - b


def test_backward_of_a_non_scalar_needs_a_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*pass gradient="):
        (x * 2).backward()


def test_a_gradient_of_the_wrong_shape_names_both_shapes():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ShapeError, match=r"gradient has shape \(3,\) but the output has shape \(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_a_tensor_without_graph_is_refused():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_requires_grad_cannot_be_switched_on_a_result():
    y = Tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        y.requires_grad_(False)
