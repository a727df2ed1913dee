"""detect_anomaly: the first op to make NaN or Inf, forward or backward, is named with the user
line that made it; outside it nothing is checked and no stack is read."""
import numpy as np
import pytest

from tinygrad_edu import AnomalyError, Tensor, detect_anomaly
from tinygrad_edu.anomaly import origins

anomaly_module = __import__("tinygrad_edu.anomaly", fromlist=["_user_line"])
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's own "divide by zero" notes

x = Tensor([1.0, 2.0], requires_grad=True)
FORWARD_CASES = {
    "log of 0": (lambda: (x - 1).log(), "Log produced -inf in forward at index (0,) (input: shape (2,) in [0, 1])"),
    "log of -1": (lambda: (x - 2).log(), "Log produced nan in forward at index (0,) (input: shape (2,) in [-1, 0])"),
    "0 * inf": (lambda: (x - 1) * Tensor([np.inf, 1.0]),
                "Mul produced nan in forward at index (0,) (inputs: shape (2,) in [0, 1]; shape (2,) in [1, inf])"),
    "inf - inf": (lambda: x * np.inf - Tensor(np.inf),
                  "Sub produced nan in forward at index (0,) (inputs: shape (2,) in [inf, inf]; "
                  "shape () in [inf, inf])"),
    "exp overflow in float32": (lambda: (x * 100).exp(),
                                "Exp produced inf in forward at index (0,) (input: shape (2,) in [100, 200])"),
}


@pytest.mark.parametrize("make, message", FORWARD_CASES.values(), ids=FORWARD_CASES.keys())
def test_forward_names_the_op_its_inputs_and_the_user_line(make, message):
    line = make.__code__.co_firstlineno
    with pytest.raises(AnomalyError) as caught, detect_anomaly():
        make()
    assert str(caught.value).startswith(message + f".\n  The op was made at {__file__}:{line} in <lambda>: ")


def test_backward_names_the_op_and_the_line_that_made_it_not_the_backward_call():
    x = Tensor([0.0, 4.0], requires_grad=True)
    with pytest.raises(AnomalyError) as caught, detect_anomaly():
        y = x.sqrt()  # sqrt at 0 is fine forward, but its slope 1/(2·sqrt(x)) is inf
        made_at = origins[y.op]
        (y * 3).sum().backward()
    assert made_at.endswith("in test_backward_names_the_op_and_the_line_that_made_it_not_the_backward_call: "
                            "y = x.sqrt()  # sqrt at 0 is fine forward, but its slope 1/(2·sqrt(x)) is inf")
    assert str(caught.value) == (f"Sqrt.backward produced inf in the gradient for input 0 at index (0,) "
                                 f"(input: shape (2,) in [0, 4]).\n  The op was made at {made_at}")


def test_outside_anomaly_mode_nothing_raises_and_no_stack_is_read(monkeypatch):
    def no_stack_reading():
        raise AssertionError("the stack was read outside detect_anomaly()")
    monkeypatch.setattr(anomaly_module, "user_line", no_stack_reading)
    for make, _ in FORWARD_CASES.values():
        out = make()
        assert not np.isfinite(out.data).all() and out.op not in origins
    x = Tensor([0.0, 4.0], requires_grad=True)
    x.sqrt().sum().backward()
    assert x.grad.data[0] == np.inf


def test_values_passed_along_from_the_data_are_not_blamed_on_an_op():
    with detect_anomaly():
        y = Tensor([np.inf, np.nan], requires_grad=True) + 1
        assert np.isinf(y.data[0]) and np.isnan(y.data[1])


def test_check_nan_false_only_records_where_each_op_was_made():
    with detect_anomaly(check_nan=False):
        y = (x - 1).log()
    assert origins[y.op].startswith(f"{__file__}:")
    assert origins[y.op].endswith("in test_check_nan_false_only_records_where_each_op_was_made: y = (x - 1).log()")


def test_the_previous_mode_comes_back_even_after_an_error():
    with pytest.raises(AnomalyError), detect_anomaly():
        with detect_anomaly(check_nan=False):
            (x - 1).log()
        (x - 1).log()
    assert (x - 1).log().op not in origins  # no observer left installed
