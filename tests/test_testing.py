"""tinygrad_edu.testing: the strategies draw what they promise, assert_gradients_match fails with
a readable table, and the example property test runs as a script and under pytest."""
import importlib.util
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinygrad_edu import Function, GradcheckError, Tensor
from tinygrad_edu.testing import assert_gradients_match, broadcastable_shapes, shapes, tensors

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "property_test.py"


@given(tensors(shape=(3, 2), dtype=np.float64, bound=2.0, name="w"))
def test_tensors_have_the_shape_dtype_and_bounds_asked_for(t):
    assert (t.shape, t.dtype, t.requires_grad, t.name) == ((3, 2), np.float64, True, "w")
    assert np.isfinite(t.data).all() and (np.abs(t.data) <= 2.0).all()


@given(tensors(positive=True), tensors(min_magnitude=0.25, requires_grad=False), tensors(unique=True))
def test_positive_min_magnitude_and_unique(positive, away_from_zero, distinct):
    assert positive.dtype == np.float32 and (positive.data >= np.float32(0.1)).all()
    assert (np.abs(away_from_zero.data) >= 0.25).all() and not away_from_zero.requires_grad
    assert len(np.unique(distinct.data)) == distinct.size


@given(tensors(shape=shapes(min_dims=1, max_dims=1), elements=st.just(7.0)))
def test_elements_replaces_the_default_floats(t):
    assert t.ndim == 1 and (t.data == 7.0).all()


@given(st.data())
def test_shapes_and_broadcastable_shapes(data):
    shape = data.draw(shapes(max_dims=2, max_side=3))
    assert len(shape) <= 2 and all(1 <= n <= 3 for n in shape)
    other = data.draw(broadcastable_shapes(shape))
    np.broadcast_shapes(shape, other)  # raises if they don't broadcast


def test_a_bad_range_is_refused():
    with pytest.raises(ValueError, match="min_magnitude=3, bound=2"):
        tensors(min_magnitude=3, bound=2)


class DoubleWithWrongBackward(Function):
    @staticmethod
    def forward(ctx, x):
        return x + x

    @staticmethod
    def backward(ctx, g):
        return g  # should be 2g


def test_assert_gradients_match_passes_right_ops():
    assert_gradients_match(lambda a, b: (a * b).tanh(), Tensor([0.5, -1.0], requires_grad=True),
                           Tensor([2.0], requires_grad=True))


def test_assert_gradients_match_fails_with_a_table_of_both_values():
    x = Tensor([[1.0, -2.0], [0.0, 3.0]], requires_grad=True, name="x")
    with pytest.raises(AssertionError) as caught:
        assert_gradients_match(DoubleWithWrongBackward.apply, x)
    assert isinstance(caught.value, GradcheckError)
    lines = str(caught.value).splitlines()
    assert lines[0] == "gradients of fn disagree with central differences in 4 of 16 entries."
    assert lines[2:] == ["   output  input          index   analytic  numeric  |difference|",
                         "✗  (0, 0)  input 0 ('x')  (0, 0)  1         2        1",
                         "✗  (0, 1)  input 0 ('x')  (0, 1)  1         2        1",
                         "✗  (1, 0)  input 0 ('x')  (1, 0)  1         2        1",
                         "✗  (1, 1)  input 0 ('x')  (1, 1)  1         2        1",
                         "(not shown: 12 where both are 0)"]


def test_a_long_table_shows_the_disagreeing_rows_first_and_counts_the_rest():
    x = Tensor(np.arange(1.0, 37.0).reshape(6, 6), requires_grad=True)
    with pytest.raises(AssertionError) as caught:
        assert_gradients_match(DoubleWithWrongBackward.apply, x)
    lines = str(caught.value).splitlines()
    assert lines[-2:] == ["... and 6 more rows, 6 of them ✗", "(not shown: 1260 where both are 0)"]


def test_a_kink_is_marked_in_the_table():
    x = Tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(AssertionError, match=r"(?m)^✗  input 0  \(0,\)   0         0\.5      0\.5           kink$"):
        assert_gradients_match(lambda x: x.relu().sum(), x)


def test_the_example_property_test_runs_under_pytest_and_as_a_script():
    spec = importlib.util.spec_from_file_location("property_test", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.test_softplus_gradient()
    run = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Softplus: backward matches central differences" in run.stdout


def test_the_engine_imports_without_hypothesis():
    blocked = "import sys; sys.modules['hypothesis'] = None; import tinygrad_edu; print('ok')"
    run = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "ok", run.stderr
