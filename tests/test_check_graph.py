"""check_graph checks each op of a graph on its own, so it points at a wrong backward and not
at the ops around it, whose gradients that backward spoils."""
import re

import numpy as np
import pytest

from tinygrad_edu import Function, GradcheckError, Tensor, detect_anomaly
from tinygrad_edu.gradcheck import check_graph
from tinygrad_edu.tensor import backward_order


class Triple(Function):
    @staticmethod
    def forward(ctx, x):
        return 3 * x

    @staticmethod
    def backward(ctx, g):
        return 3 * g


class TripleWithWrongBackward(Triple):
    @staticmethod
    def backward(ctx, g):
        return 6 * g  # off by a factor of 2


def network_loss(planted):
    """A two-layer network and its loss, 20+ ops, with `planted` between the layers. The relus
    see exact zeros and the max sees ties: kinks that check_graph must not blame."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((6, 3)), name="x")
    w1 = Tensor(rng.standard_normal((3, 5)), requires_grad=True, name="W1")
    b1 = Tensor(np.zeros(5), requires_grad=True, name="b1")
    w2 = Tensor(rng.standard_normal((5, 4)), requires_grad=True, name="W2")
    target = Tensor(np.eye(4)[[0, 1, 2, 3, 0, 1]])
    h = (x @ w1 + b1).tanh()
    h = planted.apply(h)
    h = h.relu().relu()
    logits = h @ w2
    fit = ((logits.softmax(axis=1) - target) ** 2).mean()
    penalty = 0.01 * (w1.square().sum() + (w2 * w2).sum())
    return fit + penalty + 0.1 * h.clip(0.0, 1.0).max(axis=1).mean() - 0.05 * logits.log_softmax().sum() / 6


def planted_line():
    return next(n for n, text in enumerate(open(__file__), 1) if "planted.apply(h)" in text)


def test_points_at_the_planted_op_and_the_line_that_made_it():
    with detect_anomaly(check_nan=False):
        loss = network_loss(TripleWithWrongBackward)
    ops = [t for t in backward_order([loss]) if t.op is not None]
    assert len(ops) >= 20
    with pytest.raises(GradcheckError) as caught:
        check_graph(loss)
    assert isinstance(caught.value.op, TripleWithWrongBackward)
    assert re.match(rf"check_graph: op \d+ of {len(ops)}, TripleWithWrongBackward, made at {re.escape(__file__)}:"
                    rf"{planted_line()} in network_loss: h = planted.apply\(h\), is the first op, counting from "
                    rf"the inputs, whose backward is wrong:\n", str(caught.value))
    assert caught.value.analytic == pytest.approx(2 * caught.value.numeric)


def test_a_right_graph_checks_out_kinks_and_all():
    loss = network_loss(Triple)
    seen = [(t.op.name, t.op.inputs[0].data) for t in backward_order([loss]) if t.op is not None]
    assert any(name == "Relu" and (data == 0).any() for name, data in seen)  # the first relu made zeros
    assert any(name == "Max" and ((data == 1).sum(axis=1) > 1).any() for name, data in seen)  # clip made ties
    assert check_graph(loss) is True


def test_works_after_backward_and_leaves_gradients_alone():
    loss = network_loss(TripleWithWrongBackward)
    loss.backward()
    w1 = next(t for t in backward_order([loss]) if t.name == "W1")
    before = w1.grad.data.copy()
    with pytest.raises(GradcheckError, match=r"op \d+ of \d+, TripleWithWrongBackward"):
        check_graph(loss)
    assert np.array_equal(w1.grad.data, before)


def test_without_anomaly_mode_it_says_how_to_record_the_line():
    with pytest.raises(GradcheckError, match=r"made at an unknown line \(build the graph under "
                                             r"detect_anomaly\(check_nan=False\) to record it\)"):
        check_graph(network_loss(TripleWithWrongBackward))


def test_a_result_without_a_graph_is_refused():
    with pytest.raises(ValueError, match="no ops to check"):
        check_graph(Tensor([1.0]) * 2)
