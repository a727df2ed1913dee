"""The benchmark harness can't rot: each workload's engine gradients still match the hand-written floor.

No timing is asserted; the harness runs at tiny repetitions only to show it still works.
"""
import numpy as np
import pytest

from benchmarks import measure, run
from benchmarks.workloads import WORKLOADS


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_tinygrad_edu_gradients_match_the_floor(name):
    measure.check_gradients("tinygrad_edu", name)


@pytest.mark.parametrize("name", ["W1_H3", "W2", "W3", "W5"])
def test_jit_gradients_match_the_floor_on_a_replay(name):
    measure.check_gradients("jit", name)


def test_torch_gradients_match_the_floor_when_installed():
    pytest.importorskip("torch")
    for name in ("W1_H3", "W2", "W5"):
        measure.check_gradients("torch", name)


def test_a_wrong_gradient_fails_loudly():
    _, gradients = measure.make("tinygrad_edu", "W1_H3")
    loss, grad_w1, grad_w2 = gradients()
    with pytest.raises(measure.GradientMismatch, match="value 2"):
        measure.check_gradients("tinygrad_edu", "W1_H3", [loss, grad_w1, grad_w2 * (1 + 1e-6)])


def test_the_harness_measures_and_reports():
    engines = ("floor", "tinygrad_edu", "jit")
    runs = {"W1_H3": {engine: [run.run_child(engine, "W1_H3", 0.001, 0.0001)] for engine in engines},
            "W3": {engine: [measure.measure(engine, "W3", 0.0, 0.0)] for engine in engines}}
    runs["W4"] = runs["W3"]  # the table's W4 rows need only numbers; W4 itself takes seconds
    results = run.summarise(runs)
    assert results["W1_H3"]["floor"]["ratio"] == 1.0
    assert np.isfinite(results["W3"]["tinygrad_edu"]["ratio"]) and results["W3"]["jit"]["first_call_seconds"] > 0
    text = run.table(results, ["tinygrad_edu", "jit"])
    assert "W1 XOR step, H=3" in text and "W4 peak RSS" in text
    assert "| jit |" in text and "eager steps" in text


def test_the_jit_profile_counts_numpy_calls_of_the_floor_and_of_the_replay():
    from benchmarks import profile
    result = profile.profile_jit("W1_H3", 0.01)
    assert result["floor_calls"] > 20 and result["calls"] > 20
    assert 0 < result["program"] and "W1 XOR step, H=3" in profile.jit_table({"W1_H3": result})


def test_the_profile_splits_a_step_into_op_code_collector_and_the_rest():
    from benchmarks import profile
    result = profile.profile("W1_H3", 0.01)
    assert result["ops"] == 16  # the article's loss: 16 ops recorded per step
    assert 0 < result["in_ops"] < result["total"]
    assert result["in_ops"] + result["in_gc"] + result["rest"] == pytest.approx(result["total"])
    assert "W1 XOR step, H=3" in profile.table({"W1_H3": result})
    # The instrumentation is taken off again.
    from tinygrad_edu.ops import Sigmoid
    assert Sigmoid.forward.__qualname__ == "Sigmoid.forward"
