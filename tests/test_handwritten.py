"""The engine's gradients against gradients derived by hand (examples/handwritten.py), and
the article's slipped formula against finite differences."""
import pathlib
import sys

import numpy as np
from hypothesis import given, strategies as st

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "examples"))
import handwritten  # noqa: E402
import nn  # noqa: E402
from tinygrad_edu import Tensor, gradcheck  # noqa: E402

sizes = st.integers(min_value=1, max_value=12)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
regs = st.sampled_from([0.0, 1e-6, 1e-4, 0.1])


def article_problem(batch, hidden, seed):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((batch, 2)), np.eye(2)[rng.integers(0, 2, batch)]
    return X, Y, rng.uniform(-1, 1, (2, hidden)), rng.uniform(-1, 1, (hidden, 2))


def engine_article_loss(X, Y, W1, W2, reg):
    n = len(X)
    h2 = (Tensor(X) @ W1).sigmoid() @ W2
    return ((Y - h2.sigmoid()) ** 2).sum() / (2 * n) + reg * nn.l2_penalty([W1, W2]) / (2 * n)


def weights(*arrays):
    return [Tensor(a, requires_grad=True) for a in arrays]


@given(batch=sizes, hidden=sizes, reg=regs, seed=seeds)
def test_engine_equals_the_hand_derived_article_gradients(batch, hidden, reg, seed):
    X, Y, W1, W2 = article_problem(batch, hidden, seed)
    w1, w2 = weights(W1, W2)
    loss = engine_article_loss(X, Y, w1, w2, reg)
    loss.backward()
    by_hand = handwritten.article_gradients(X, Y, W1, W2, reg)
    assert np.isclose(loss.item(), handwritten.article_loss(X, Y, W1, W2, reg), rtol=0, atol=1e-12)
    np.testing.assert_allclose(w1.grad.data, by_hand[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(w2.grad.data, by_hand[1], rtol=0, atol=1e-12)


@given(batch=sizes, hidden=sizes, outputs=st.integers(1, 4), seed=seeds)
def test_engine_equals_the_notes_dense_tanh_mse_layers(batch, hidden, outputs, seed):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((batch, 3)), rng.standard_normal((batch, outputs))
    model = nn.Sequential(nn.Linear(3, hidden, dtype=np.float64), nn.Tanh(), nn.Linear(hidden, outputs, dtype=np.float64))
    first, last = model[0], model[2]
    # The note keeps samples in columns and W as (out, in): the transposes of nn's layout.
    note = [handwritten.Dense(first.weight.data.T, first.bias.data[:, None]), handwritten.Tanh(),
            handwritten.Dense(last.weight.data.T, last.bias.data[:, None])]
    x = Tensor(X, requires_grad=True)
    loss = nn.mse_loss(model(x), Y)
    loss.backward()
    note_loss, note_input_gradient = handwritten.note_backward(note, X.T, Y.T)
    assert np.isclose(loss.item(), note_loss, rtol=0, atol=1e-12)
    np.testing.assert_allclose(x.grad.data, note_input_gradient.T, rtol=0, atol=1e-12)
    for layer, dense in ((first, note[0]), (last, note[2])):
        np.testing.assert_allclose(layer.weight.grad.data, dense.weights_gradient.T, rtol=0, atol=1e-12)
        np.testing.assert_allclose(layer.bias.grad.data, dense.bias_gradient.ravel(), rtol=0, atol=1e-12)


def test_a_step_of_the_notes_layers_equals_a_step_of_sgd():
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((6, 2)), rng.standard_normal((6, 1))
    model = nn.Sequential(nn.Linear(2, 4, seed=0, dtype=np.float64), nn.Tanh(), nn.Linear(4, 1, seed=1, dtype=np.float64))
    note = [handwritten.Dense(model[0].weight.data.T, model[0].bias.data[:, None]), handwritten.Tanh(),
            handwritten.Dense(model[2].weight.data.T, model[2].bias.data[:, None])]
    nn.mse_loss(model(Tensor(X)), Y).backward()
    nn.SGD(model.parameters(), lr=0.1).step()
    handwritten.note_backward(note, X.T, Y.T, learning_rate=0.1)
    np.testing.assert_allclose(model[0].weight.data, note[0].weights.T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model[2].bias.data, note[2].bias.ravel(), rtol=0, atol=1e-12)


def test_the_articles_code_gradient_fails_a_gradient_check_that_the_engine_passes():
    X, Y, W1, W2 = article_problem(batch=50, hidden=3, seed=0)
    reg = 1e-4
    rng = np.random.default_rng(1)
    directions = [rng.standard_normal(W1.shape), rng.standard_normal(W2.shape)]

    def slope(gradients):
        return sum(np.sum(g * d) for g, d in zip(gradients, directions))

    numeric = handwritten.directional_derivative(lambda a, b: handwritten.article_loss(X, Y, a, b, reg),
                                                 [W1, W2], directions)
    w1, w2 = weights(W1, W2)
    engine_article_loss(X, Y, w1, w2, reg).backward()
    assert np.isclose(slope([w1.grad.data, w2.grad.data]), numeric, rtol=1e-6, atol=1e-9)
    assert np.isclose(slope(handwritten.article_gradients(X, Y, W1, W2, reg)), numeric, rtol=1e-6, atol=1e-9)
    slipped = slope(handwritten.article_code_gradients(X, Y, W1, W2, reg))
    assert abs(slipped - numeric) > 10 * abs(numeric)  # off by about the factor N = 50
    assert gradcheck(lambda a, b: engine_article_loss(X, Y, a, b, reg), weights(W1, W2))


def test_each_slip_alone_is_caught():
    """Without regularisation only the missing 1/N shows; with N = 1 only the scalar L2 term does."""
    for batch, reg in ((50, 0.0), (1, 1e-2)):
        X, Y, W1, W2 = article_problem(batch, hidden=3, seed=2)
        correct = handwritten.article_gradients(X, Y, W1, W2, reg)
        slipped = handwritten.article_code_gradients(X, Y, W1, W2, reg)
        assert not np.allclose(slipped[1], correct[1], rtol=1e-3, atol=1e-8), (batch, reg)


def test_the_articles_tanh_helper_is_tanh_of_half_the_input():
    z = np.linspace(-3, 3, 13)
    assert np.allclose(handwritten.article_code_tanh(z), np.tanh(z / 2))
    assert not np.allclose(handwritten.article_code_tanh(z), np.tanh(z))


def test_the_articles_gradient_makes_the_weights_run_away_where_the_correct_one_does_not():
    """λ·ΣW² added to every entry pushes all weights one way, which grows ΣW², which pushes harder.
    (A strong λ = 1e-2 shows in 1,500 steps what λ = 1e-4 shows in about 100,000.)"""
    inputs, targets = nn.data.xor()
    _, _, W1, W2 = article_problem(batch=1, hidden=50, seed=0)
    arguments = (inputs[:50], targets[:50], W1 / np.sqrt(2), W2 / np.sqrt(50), 0.003, 1e-2, 1500, 1500)
    (_, loss, size), = handwritten.descend(handwritten.article_gradients, *arguments)
    assert np.isfinite(loss) and size < 1.1 * (np.sum(W1 ** 2) / 2 + np.sum(W2 ** 2) / 50)
    with np.errstate(all="ignore"):
        (_, _, slipped_size), = handwritten.descend(handwritten.article_code_gradients, *arguments)
    assert not np.isfinite(slipped_size) or slipped_size > 100 * size
