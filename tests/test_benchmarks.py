"""The benchmark harness can't rot: each workload's engine gradients still match the hand-written floor.

No timing is asserted; the harness runs at tiny repetitions only to show it still works.
"""
import json
from pathlib import Path

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



def test_the_protection_cost_is_measured_in_a_process_of_its_own():
    # The child checks that the engine without protection still gives the floor's gradients and that
    # its results really are writeable (else it exits and run_child fails); this process keeps its own.
    from tinygrad_edu import Tensor
    measured = run.run_child("protection", "W1_H3", 0.001, 0.0001)
    assert len(measured["pairs"]) == 5 and all(p > 0 and u > 0 for p, u in measured["pairs"])
    assert not (Tensor([1.0]) + 1).data.flags.writeable


def test_without_protection_puts_the_protection_back_afterwards():
    from benchmarks import engines
    from tinygrad_edu import Tensor
    with engines.without_protection():
        assert (Tensor([1.0]) + 1).data.flags.writeable
    assert not (Tensor([1.0]) + 1).data.flags.writeable


def test_the_protection_table_reports_the_median_of_the_pairs_ratios():
    floor = [{"seconds": 1.0, "peak_rss_mib": 1.0, "baseline_rss_mib": 1.0}]
    runs = {"W3": {"floor": floor, "protection": [{"pairs": [[5.5, 5.0], [5.1, 5.0]]}, {"pairs": [[5.15, 5.0]]}]},
            "W5": {"floor": floor, "protection": [{"pairs": [[6.6, 6.0], [6.6, 6.0], [6.3, 6.0]]}]}}
    lines = run.protection_table(run.summarise(runs)).splitlines()
    assert lines[2] == "| W3 1000-op chain, 16 elements | 5.1 s | +3.0% | 3 | ≤ 5% | yes |"
    assert lines[3] == "| W5 Hessian-vector product, H=3 | 6.3 s | +10.0% | 3 | ≤ 5% | **no** |"


def test_the_performance_page_shows_the_tables_of_the_saved_run():
    root = Path(__file__).resolve().parent.parent
    results = json.loads((root / "benchmarks" / "results.json").read_text())["results"]
    page = (root / "docs" / "performance.md").read_text()
    shown = run.tables(results)
    assert len(shown) == 2  # the saved run measured what the protection costs
    for text in shown:
        assert text in page, ("docs/performance.md no longer shows benchmarks/results.json: paste in the tables "
                              "that `python -m benchmarks --show` prints")


def test_an_engines_ratio_is_the_median_of_its_pairs_with_the_floor_over_all_rounds():
    def measured(seconds, pairs):
        return {"seconds": seconds, "floor_pairs": pairs, "peak_rss_mib": 1.0, "baseline_rss_mib": 1.0}
    floor = [{"seconds": s, "peak_rss_mib": 1.0, "baseline_rss_mib": 1.0} for s in (1.0, 2.0)]
    # Rounds timed apart would say 4 and 1.5; the pairs, each timed beside the floor, say 3.
    eager = [measured(4.0, [[3.0, 1.0], [6.0, 2.0]]), measured(3.0, [[3.3, 1.0]])]
    results = run.summarise({"W3": {"floor": floor, "tinygrad_edu": eager}})
    assert results["W3"]["tinygrad_edu"]["ratio"] == 3.0
    assert results["W3"]["floor"]["ratio"] == 1.0


def test_alternating_pairs_time_both_steps_in_turn_with_batches_of_their_own_size():
    order = []

    def batch(label, per_call):
        def run_batch(calls):
            order.append(label)
            return calls * per_call
        return run_batch
    pairs = measure.alternating_pairs(batch("a", 0.004), batch("b", 0.001), seconds=0.0, batch_seconds=0.1)
    assert pairs == [[0.004, 0.001]] * 5
    # Calibration (a: 1, 2, 4 calls reach 0.01 s; b: 1, 2, 4, 8, 16), then pairs in turn, each in the other order.
    assert order == ["a"] * 3 + ["b"] * 5 + ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"]
