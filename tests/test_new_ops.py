"""The ops of issue 13 at their edges, against NumPy and hand-derived values: empty and 0-d
tensors, negative axes, repeated indices, ties, NaN, and the errors for what has no meaning.
(test_ops.py checks each op's first and second derivatives against finite differences.)"""
import warnings

import numpy as np
import pytest

from tinygrad_edu import AxisError, ShapeError, Tensor, cat, grad, maximum, minimum, no_grad, stack, where


def leaf(values, dtype=np.float64):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True, dtype=dtype)


def gradient_of(fn, x, seed=None):
    """x's gradient of fn(x) backpropagated from seed (ones by default)."""
    out = fn(x)
    out.backward(np.ones(out.shape) if seed is None else seed)
    return x.grad.data


# --- indexing -----------------------------------------------------------------

A = np.arange(24.0).reshape(2, 3, 4)


@pytest.mark.parametrize("index", [
    1, -1, (1, 2), (slice(1, None), slice(None, None, 2)), (None, Ellipsis, 0), (Ellipsis, -1),
    (slice(None, None, -1), 1), [1, 0, 1], ([0, 1], [2, 2]), (0, [2, 0], slice(1, 3)),
    A > 10, (A[:, :, 0] > 5,), (slice(None), [True, False, True]), [], (), (slice(2, 2),)],
    ids=repr)
def test_getitem_picks_what_numpy_picks_and_backward_puts_gradient_back(index):
    x = leaf(A)
    out = x[index]
    np.testing.assert_array_equal(out.data, A[index])
    seed = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(seed)
    expected = np.zeros_like(A)
    np.add.at(expected, index if isinstance(index, tuple) else (np.asarray(index, dtype=int)
                                                             if isinstance(index, list) else index,), seed)
    np.testing.assert_array_equal(x.grad.data, expected)


def test_repeated_indices_accumulate_like_np_add_at():
    x = leaf([10.0, 20.0, 30.0])
    np.testing.assert_array_equal(gradient_of(lambda t: t[[0, 0, 2, 0]], x), [3, 0, 1])
    m = leaf(np.zeros((2, 3)))
    rows, cols = Tensor([1, 1, 0], dtype=np.int64), Tensor([2, 2, 2], dtype=np.int64)
    np.testing.assert_array_equal(gradient_of(lambda t: t[rows, cols], m), [[0, 0, 1], [0, 0, 2]])


def test_integer_and_bool_tensors_index_like_arrays():
    x = leaf(A)
    np.testing.assert_array_equal(x[Tensor([1, 0], dtype=np.int64)].data, A[[1, 0]])
    np.testing.assert_array_equal(x[x > 20].data, [21, 22, 23])
    np.testing.assert_array_equal(x[Tensor(1, dtype=np.int64)].data, A[1])


def test_second_derivative_flows_through_repeated_indices():
    x = leaf([2.0, 5.0])
    f = (x[[0, 0]] ** 3).sum()  # 2·x0³
    g, = grad(f, [x], create_graph=True)
    np.testing.assert_allclose(g.data, [6 * 4.0, 0])
    h, = grad(g.sum(), [x])
    np.testing.assert_allclose(h.data, [12 * 2.0, 0])


def test_getitem_of_0d_and_empty_tensors():
    x = leaf(3.0)
    assert x[()].shape == () and x[None].shape == (1,) and x[...].shape == ()
    np.testing.assert_array_equal(gradient_of(lambda t: t[None] * 2, x), 2.0)
    e = leaf(np.zeros((0, 3)))
    assert e[:, 1].shape == (0,) and e[[]].shape == (0, 3)
    np.testing.assert_array_equal(gradient_of(lambda t: t[:, 1:], e), np.zeros((0, 3)))


def test_an_index_array_changed_later_changes_nothing():
    x = leaf([1.0, 2.0, 3.0])
    index = np.array([0, 1])
    out = x[index]
    index[:] = 2
    out.backward(np.ones(2))
    np.testing.assert_array_equal(x.grad.data, [1, 1, 0])


@pytest.mark.parametrize("index", [1.0, [0.5], np.array([1.0]), Tensor([0.0]), "a"], ids=repr)
def test_indices_must_be_integer_or_bool(index):
    with pytest.raises(IndexError, match="getitem: indices must be integers"):
        Tensor([1.0, 2.0])[index]


def test_an_index_out_of_bounds_names_the_shape():
    with pytest.raises(IndexError, match=r"index 5 is out of bounds.*shape \(2, 3\)"):
        Tensor(np.zeros((2, 3)))[:, 5]


def test_iterating_gives_rows_and_a_0d_tensor_does_not_iterate():
    rows = list(Tensor(A))
    assert len(rows) == 2 and all(isinstance(r, Tensor) for r in rows)
    np.testing.assert_array_equal(rows[1].data, A[1])
    with pytest.raises(TypeError, match="0-d"):
        list(Tensor(1.0))


# --- setitem ------------------------------------------------------------------

def test_setitem_writes_a_new_array_and_leaves_the_old_one_alone():
    t = Tensor(np.zeros(5))
    old = t.data
    t[[1, 1, 3]] = 2.0
    t[Tensor([True, False, False, False, True], dtype=bool)] = Tensor([7.0, 8.0], dtype=np.float64)
    np.testing.assert_array_equal(t.data, [7, 2, 0, 2, 8])
    np.testing.assert_array_equal(old, np.zeros(5))
    assert not t.data.flags.writeable


def test_setitem_into_a_constant_that_a_graph_used_keeps_the_gradient_right():
    w, x = leaf([2.0, 3.0]), Tensor(np.array([5.0, 7.0]))
    y = (w * x).sum()
    x[0] = 100.0
    y.backward()
    np.testing.assert_array_equal(w.grad.data, [5, 7])


def test_setitem_refuses_a_tensor_in_a_graph():
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"setitem: .*part of a graph.*no_grad\(\)"):
        w[0] = 5.0
    result = w * 2
    with no_grad():
        with pytest.raises(RuntimeError, match="part of a graph"):
            result[0] = 5.0
        w[0] = 5.0  # a parameter may be changed under no_grad, as in PyTorch
    np.testing.assert_array_equal(w.data, [5, 2])


def test_setitem_refuses_a_value_that_requires_grad():
    with pytest.raises(RuntimeError, match="value .* requires grad"):
        Tensor(np.zeros(2))[0] = leaf(1.0)


def test_setitem_errors_name_the_problem():
    t = Tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match="setitem: indices must be integers"):
        t[0.5] = 1.0
    with pytest.raises(ShapeError, match=r"setitem: a value of shape \(4,\)"):
        t[0] = np.ones(4)


# --- comparisons, where, maximum, minimum ---------------------------------------------

@pytest.mark.parametrize("name, reference", [("__lt__", np.less), ("__le__", np.less_equal), ("__gt__", np.greater),
                                             ("__ge__", np.greater_equal), ("__eq__", np.equal),
                                             ("__ne__", np.not_equal)])
def test_comparisons_are_elementwise_bool_tensors_without_gradient(name, reference):
    a = np.array([[1.0, 2.0, np.nan], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 1.0])
    x = leaf(a)
    for other in (Tensor(b, dtype=np.float64), b, 2.0, 2):
        out = getattr(x, name)(other)
        assert out.dtype == np.bool_ and not out.requires_grad and out.op is None
        expected = reference(a, other.data if isinstance(other, Tensor) else np.asarray(other))
        np.testing.assert_array_equal(out.data, expected)


def test_reflected_comparisons_and_unknown_operands():
    x = Tensor([1.0, 3.0])
    np.testing.assert_array_equal((2 < x).data, [False, True])
    np.testing.assert_array_equal((np.array([2.0, 2.0]) >= x).data, [True, False])
    assert (x == None) is False and (x != None) is True  # noqa: E711  (Python's fallback for unknown types)
    with pytest.raises(TypeError):
        x < "a"


def test_tensors_stay_hashable_by_identity():
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b}) == 2 and {a: 1, b: 2}[b] == 2 and hash(a) != hash(b)


def test_where_picks_and_routes_the_gradient():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([[10.0], [20.0]])
    condition = np.array([True, False, True])
    out = where(condition, a, b)
    np.testing.assert_array_equal(out.data, [[1, 10, 3], [1, 20, 3]])
    out.backward(np.ones(out.shape))
    np.testing.assert_array_equal(a.grad.data, [2, 0, 2])
    np.testing.assert_array_equal(b.grad.data, [[1], [1]])


def test_where_takes_numbers_and_keeps_the_tensors_dtype():
    x = Tensor([-1.0, 2.0])
    out = where(x > 0, x, 0.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, [0, 2])
    assert where([True, False], 1.0, 0.0).dtype == np.float32


def test_where_wants_a_bool_condition():
    with pytest.raises(TypeError, match="where: condition must be a bool"):
        where(np.array([1.0, 0.0]), 1.0, 0.0)


@pytest.mark.parametrize("fn, values, grad_a, grad_b", [
    (maximum, [3.0, 3.0], [0, 1], [1, 0]), (minimum, [1.0, 1.0], [1, 0], [0, 1])], ids=["maximum", "minimum"])
def test_maximum_and_minimum_pick_and_share_ties(fn, values, grad_a, grad_b):
    a, b = leaf([1.0, 3.0, 2.0]), leaf([3.0, 1.0, 2.0])
    out = fn(a, b)
    np.testing.assert_array_equal(out.data, values + [2.0])
    out.backward(np.ones(3))
    np.testing.assert_array_equal(a.grad.data, grad_a + [0.5])
    np.testing.assert_array_equal(b.grad.data, grad_b + [0.5])


def test_maximum_and_minimum_propagate_nan_and_give_it_the_gradient():
    for fn in (maximum, minimum):
        a, b = leaf([np.nan, 1.0]), leaf([1.0, np.nan])
        out = fn(a, b)
        assert np.isnan(out.data).all()
        out.backward(np.ones(2))
        np.testing.assert_array_equal(a.grad.data, [1, 0])
        np.testing.assert_array_equal(b.grad.data, [0, 1])


def test_maximum_and_minimum_as_methods_with_numbers():
    x = Tensor([-1.0, 2.0])
    np.testing.assert_array_equal(x.maximum(0).data, [0, 2])
    np.testing.assert_array_equal(x.minimum(0.5).data, [-1, 0.5])
    assert x.maximum(0).dtype == np.float32
    np.testing.assert_array_equal(maximum([1.0, 5.0], 2.0).data, [2, 5])


# --- argmax, argmin -------------------------------------------------------------

@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_and_argmin_match_numpy(name):
    values = np.array([[1.0, 5.0, 5.0], [7.0, np.nan, 0.0], [2.0, 2.0, 2.0]])
    x = leaf(values)
    for axis, keepdims in [(None, False), (0, False), (-1, False), (1, True), (None, True)]:
        out = getattr(x, name)(axis=axis, keepdims=keepdims)
        assert out.dtype == np.int64 and not out.requires_grad
        np.testing.assert_array_equal(out.data, getattr(np, name)(values, axis=axis, keepdims=keepdims))
    first_at_ties = [1 if name == "argmax" else 0, 0]
    np.testing.assert_array_equal(getattr(x, name)(axis=1).data[[0, 2]], first_at_ties)
    assert getattr(x, name)(axis=1).data[1] == 1  # NaN is picked, as in NumPy and PyTorch


def test_argmax_errors():
    with pytest.raises(ShapeError, match="empty"):
        Tensor(np.zeros(0)).argmax()
    with pytest.raises(TypeError, match="argmax: axis must be an int"):
        Tensor([1.0]).argmax(axis=0.5)


# --- elementwise functions ----------------------------------------------------------

def sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("name, value, slope", [
    ("sin", np.sin, np.cos),
    ("cos", np.cos, lambda x: -np.sin(x)),
    ("expm1", np.expm1, np.exp),
    ("log1p", lambda x: np.log1p(x), lambda x: 1 / (1 + x)),
    ("leaky_relu", lambda x: np.where(x > 0, x, 0.01 * x), lambda x: np.where(x > 0, 1, 0.01)),
    ("elu", lambda x: np.where(x > 0, x, np.expm1(x)), lambda x: np.where(x > 0, 1, np.exp(x))),
    ("silu", lambda x: x * sigmoid(x), lambda x: sigmoid(x) * (1 + x * (1 - sigmoid(x)))),
    ("gelu", lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))), None),
    ("softplus", lambda x: np.log(1 + np.exp(x)), sigmoid),
    ("logsigmoid", lambda x: np.log(sigmoid(x)), lambda x: 1 - sigmoid(x)),
])
def test_elementwise_values_and_slopes(name, value, slope):
    values = np.array([-0.9, -0.5, 0.25, 1.0, 3.0])
    x = leaf(values)
    out = getattr(x, name)()
    np.testing.assert_allclose(out.data, value(values), rtol=1e-12)
    out.backward(np.ones(5))
    if slope is not None:
        np.testing.assert_allclose(x.grad.data, slope(values), rtol=1e-12)


@pytest.mark.parametrize("name", ["softplus", "logsigmoid", "silu", "gelu", "elu", "leaky_relu", "sigmoid", "expm1"])
def test_elementwise_stays_finite_and_quiet_at_plus_minus_1000(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype in (np.float32, np.float64):
            x = leaf([-1000.0, 1000.0] if name != "expm1" else [-1000.0, 10.0], dtype=dtype)
            out = getattr(x, name)()
            out.backward(np.ones(2, dtype=dtype))
            assert np.isfinite(out.data).all() and np.isfinite(x.grad.data).all() and out.dtype == dtype
    np.testing.assert_allclose(Tensor([-1000.0, 1000.0]).softplus().data, [0, 1000])
    np.testing.assert_allclose(Tensor([-1000.0, 1000.0]).logsigmoid().data, [-1000, 0])


def test_sign_has_no_gradient_and_keeps_nan():
    x = leaf([-2.0, 0.0, 3.0, np.nan])
    s = x.sign()
    np.testing.assert_array_equal(s.data, [-1, 0, 1, np.nan])
    assert not s.requires_grad
    np.testing.assert_array_equal(gradient_of(lambda t: t * t.sign(), x)[:3], [-1, 0, 1])


def test_tensor_exponents():
    a, b = leaf([2.0, 3.0, 0.0]), leaf([3.0, 0.5, 2.0])
    out = a ** b
    np.testing.assert_allclose(out.data, [8, np.sqrt(3), 0])
    out.backward(np.ones(3))
    np.testing.assert_allclose(a.grad.data, [3 * 4, 0.5 / np.sqrt(3), 0])
    np.testing.assert_allclose(b.grad.data, [8 * np.log(2), np.sqrt(3) * np.log(3), 0])  # 0 at base 0, as torch
    x = leaf([1.0, 2.0])
    for out in (2 ** x, np.array([2.0, 2.0]) ** x, np.power(2.0, x)):
        assert isinstance(out, Tensor)
        np.testing.assert_allclose(out.data, [2, 4])
    np.testing.assert_allclose(gradient_of(lambda t: 2 ** t, x), [2 * np.log(2), 4 * np.log(2)])
    np.testing.assert_allclose((x ** np.array([2.0, 3.0])).data, [1, 8])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zero = leaf([0.0])
        exponent = leaf([0.0])
        (zero ** exponent).backward(np.ones(1))  # 0⁰ = 1, flat both ways as in PyTorch
        assert zero.grad.data[0] == 0 and exponent.grad.data[0] == 0


# --- reductions ------------------------------------------------------------------

def test_min_matches_numpy_and_shares_ties():
    values = np.array([[3.0, 1.0, 1.0], [0.0, 2.0, 5.0]])
    x = leaf(values)
    np.testing.assert_array_equal(x.min(axis=-1).data, [1, 0])
    np.testing.assert_array_equal(x.min(axis=0, keepdims=True).data, [[0, 1, 1]])
    np.testing.assert_array_equal(gradient_of(lambda t: t.min(axis=1), x), [[0, 0.5, 0.5], [1, 0, 0]])


def test_min_and_max_give_the_gradient_to_nan():
    for name in ("min", "max"):
        x = leaf([1.0, np.nan, 3.0])
        out = getattr(x, name)()
        assert np.isnan(out.data)
        np.testing.assert_array_equal(gradient_of(lambda t: getattr(t, name)(), x), [0, 1, 0])


def test_min_of_empty_is_an_error():
    with pytest.raises(ShapeError, match="min: cannot reduce an empty tensor"):
        Tensor(np.zeros((0, 2))).min()


@pytest.mark.parametrize("axis, keepdims, correction",
                         [(None, False, 1), (0, False, 0), (-1, True, 1), ((0, 1), False, 2)])
def test_var_and_std_match_numpy(axis, keepdims, correction):
    values = np.random.default_rng(1).standard_normal((3, 4))
    x = leaf(values)
    np.testing.assert_allclose(x.var(axis, keepdims, correction).data,
                               values.var(axis=axis, keepdims=keepdims, ddof=correction))
    np.testing.assert_allclose(x.std(axis=axis, keepdims=keepdims, correction=correction).data,
                               values.std(axis=axis, keepdims=keepdims, ddof=correction))
    n = values.size if axis is None else np.prod([values.shape[a] for a in np.atleast_1d(axis)])
    expected = 2 * (values - values.mean(axis=axis, keepdims=True)) / (n - correction)
    np.testing.assert_allclose(gradient_of(lambda t: t.var(axis, keepdims, correction), x), expected)


def test_var_of_one_element_with_correction_is_nan_as_in_numpy():
    with np.errstate(all="ignore"):
        assert np.isnan(Tensor([2.0]).var().data)
    assert Tensor([2.0]).var(correction=0).data == 0


def test_logsumexp_is_stable_and_its_gradient_is_softmax():
    values = np.array([[1000.0, 1000.0], [-1000.0, 0.0]])
    x = leaf(values)
    np.testing.assert_allclose(x.logsumexp(axis=1).data, [1000 + np.log(2), np.log1p(np.exp(-1000.0))])
    np.testing.assert_allclose(x.logsumexp(axis=-1, keepdims=True).shape, (2, 1))
    np.testing.assert_allclose(gradient_of(lambda t: t.logsumexp(axis=1), x), [[0.5, 0.5], [0, 1]])
    np.testing.assert_allclose(Tensor([1.0, 2.0, 3.0]).logsumexp().data, np.log(np.exp([1.0, 2.0, 3.0]).sum()),
                               rtol=1e-6)


def test_logsumexp_of_infinities_and_of_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Tensor([-np.inf, -np.inf]).logsumexp().data == -np.inf
        assert Tensor([np.inf, 1.0]).logsumexp().data == np.inf
        assert Tensor(np.zeros(0)).logsumexp().data == -np.inf


def test_cumsum_matches_numpy_and_its_gradient_sums_from_the_end():
    values = np.arange(6.0).reshape(2, 3)
    x = leaf(values)
    np.testing.assert_array_equal(x.cumsum(1).data, np.cumsum(values, axis=1))
    np.testing.assert_array_equal(x.cumsum(-2).data, np.cumsum(values, axis=0))
    np.testing.assert_array_equal(gradient_of(lambda t: t.cumsum(-1), x), [[3, 2, 1], [3, 2, 1]])
    assert Tensor(5.0).cumsum(0).data == 5.0
    assert Tensor(np.zeros((0, 2))).cumsum(0).shape == (0, 2)
    with pytest.raises(AxisError):
        x.cumsum(2)


# --- shapes ----------------------------------------------------------------------

def test_cat_joins_and_splits_the_gradient():
    a, b = leaf(np.ones((2, 1))), leaf(np.zeros((2, 3)))
    out = cat([a, b], axis=-1)
    np.testing.assert_array_equal(out.data, np.concatenate([np.ones((2, 1)), np.zeros((2, 3))], axis=1))
    out.backward(np.arange(8.0).reshape(2, 4))
    np.testing.assert_array_equal(a.grad.data, [[0], [4]])
    np.testing.assert_array_equal(b.grad.data, [[1, 2, 3], [5, 6, 7]])
    np.testing.assert_array_equal(cat([Tensor([1.0]), np.array([2.0, 3.0]), Tensor(np.zeros(0))]).data, [1, 2, 3])
    assert cat([Tensor([1], dtype=np.int64), Tensor([0.5])]).dtype == np.float32  # as PyTorch, not NumPy's float64
    assert stack([Tensor([1], dtype=np.int64), Tensor([2], dtype=np.int64)]).dtype == np.int64


def test_cat_and_stack_errors():
    with pytest.raises(ValueError, match="cat: needs at least one tensor"):
        cat([])
    with pytest.raises(ShapeError, match=r"\(2, 1\) and \(3, 1\)"):
        cat([Tensor(np.ones((2, 1))), Tensor(np.ones((3, 1)))], axis=1)
    with pytest.raises(AxisError, match="stack: axis 3"):
        stack([Tensor([1.0])], axis=3)


def test_stack_adds_an_axis_and_hands_each_tensor_its_slice():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    out = stack([a, b], axis=-1)
    np.testing.assert_array_equal(out.data, [[1, 3], [2, 4]])
    out.backward(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(a.grad.data, [1, 3])
    np.testing.assert_array_equal(b.grad.data, [2, 4])
    assert stack([Tensor(1.0), Tensor(2.0)]).shape == (2,)


def test_split_as_torch():
    x = leaf(np.arange(10.0).reshape(5, 2))
    assert [p.shape for p in x.split(2)] == [(2, 2), (2, 2), (1, 2)]
    assert [p.shape for p in x.split([1, 4])] == [(1, 2), (4, 2)]
    assert [p.shape for p in x.split(1, axis=-1)] == [(5, 1), (5, 1)]
    assert [p.shape for p in Tensor(np.zeros((0, 2))).split(3)] == [(0, 2)]
    first, rest = x.split([2, 3])
    (first * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[2, 2], [2, 2], [0, 0], [0, 0], [0, 0]])
    with pytest.raises(ShapeError, match="do not add up to 5"):
        x.split([2, 2])
    with pytest.raises(ValueError, match="must be positive"):
        x.split(0)


def test_squeeze_unsqueeze_flatten_view():
    x = Tensor(np.zeros((1, 3, 1, 2)))
    assert x.squeeze().shape == (3, 2)
    assert x.squeeze(1).shape == (1, 3, 1, 2)  # a size other than 1 is left alone, as torch
    assert x.squeeze(-2).shape == (1, 3, 2) and x.squeeze((0, 2)).shape == (3, 2)
    assert Tensor(1.0).squeeze().shape == ()
    assert x.unsqueeze(0).shape == (1, 1, 3, 1, 2) and x.unsqueeze(-1).shape == (1, 3, 1, 2, 1)
    assert Tensor(1.0).unsqueeze(-1).shape == (1,)
    assert x.flatten().shape == (6,) and x.flatten(1).shape == (1, 6) and x.flatten(1, -2).shape == (1, 3, 2)
    assert Tensor(1.0).flatten().shape == (1,) and Tensor(np.zeros((2, 0, 3))).flatten(0, 1).shape == (0, 3)
    assert x.view(3, -1).shape == (3, 2) and x.view((6,)).shape == (6,)
    with pytest.raises(AxisError):
        x.unsqueeze(5)
    with pytest.raises(ShapeError, match="start_axis 2 comes after end_axis 1"):
        x.flatten(2, 1)


def test_flip_reverses_values_and_gradient():
    values = np.arange(6.0).reshape(2, 3)
    x = leaf(values)
    np.testing.assert_array_equal(x.flip(-1).data, np.flip(values, -1))
    np.testing.assert_array_equal(x.flip((0, 1)).data, np.flip(values))
    np.testing.assert_array_equal(gradient_of(lambda t: t.flip(0), x, seed=values), np.flip(values, 0))
    with pytest.raises(ValueError, match="names an axis twice"):
        x.flip((0, -2))


@pytest.mark.parametrize("pad_width", [1, (1, 2), ((0, 1), (2, 0)), ((1, 1),)], ids=repr)
def test_pad_matches_np_pad_and_passes_the_inside_gradient_back(pad_width):
    values = np.arange(6.0).reshape(2, 3)
    x = leaf(values)
    out = x.pad(pad_width, value=-1.0)
    np.testing.assert_array_equal(out.data, np.pad(values, pad_width, constant_values=-1.0))
    out.backward(np.pad(np.full((2, 3), 5.0), pad_width, constant_values=1.0))
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 5.0))


def test_pad_errors():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="non-negative ints"):
        x.pad(-1)
    with pytest.raises(ValueError, match="non-negative ints"):
        x.pad(1.5)
    with pytest.raises(ShapeError, match="does not fit"):
        x.pad(((1, 1), (1, 1), (1, 1)))


def test_permute_and_expand_as_torch():
    x = leaf(np.arange(6.0).reshape(1, 2, 3))
    assert x.permute(2, 0, 1).shape == (3, 1, 2) and x.permute(-1, -2, -3).shape == (3, 2, 1)
    with pytest.raises(ShapeError):
        x.permute(0, 1)
    assert x.expand(4, -1, -1, 3).shape == (4, 1, 2, 3) and x.expand(4, 5, -1, -1).shape == (4, 5, 2, 3)
    np.testing.assert_array_equal(gradient_of(lambda t: t.expand(5, 2, 3), x), np.full((1, 2, 3), 5.0))
    with pytest.raises(ShapeError):
        x.expand(-1, 1, 2, 3)
    with pytest.raises(ShapeError):
        x.expand(2, 3)


# --- casts -------------------------------------------------------------------------

def test_casts_between_floats_are_differentiable_and_to_integers_are_data():
    x = leaf([1.5, -2.7])
    single = x.float()
    assert single.dtype == np.float32 and single.requires_grad
    (single * 2).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [2, 2])
    whole = x.astype(np.int64)
    np.testing.assert_array_equal(whole.data, [1, -2])
    assert whole.dtype == np.int64 and not whole.requires_grad
    assert single.double().dtype == np.float64 and x.double() is x
    assert Tensor([1, 2], dtype=np.int64).float().dtype == np.float32
