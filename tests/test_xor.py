"""Networks that learn the article's XOR data, in a bounded number of steps."""
import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "examples"))
import xor  # noqa: E402
import nn  # noqa: E402
from tinygrad_edu import Tensor, no_grad  # noqa: E402

INPUTS, TARGETS = nn.data.xor()
TRAIN_SET, TEST_SET = (INPUTS[:50], TARGETS[:50]), (INPUTS[50:], TARGETS[50:])


@pytest.mark.parametrize("seed", [0, 1])
def test_article_network_with_biases_fits_every_training_point(seed, capsys):
    """The documented configuration: xor.py --bias --hidden 8 --lr 2 --steps 3000 (SGD, the article's loss)."""
    args = xor.parse_args(["--bias", "--hidden", "8", "--lr", "2", "--steps", "3000", "--seed", str(seed)])
    model = xor.ArticleNetwork(args.hidden, seed=args.seed, bias=args.bias)
    history = xor.train(model, args, TRAIN_SET, TEST_SET)
    assert history["train"][-1] == 1.0
    assert history["test"][-1] > 0.85
    assert "step     3000/3000" in capsys.readouterr().out


def test_tanh_mlp_with_adam_fits_every_training_point():
    model = nn.MLP([2, 8, 2], activation="tanh", seed=0)
    optimizer = nn.Adam(model.parameters(), lr=0.05)
    inputs, labels = Tensor(TRAIN_SET[0]), np.argmax(TRAIN_SET[1], axis=1)
    for _ in range(500):
        loss = nn.cross_entropy(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with no_grad():
        assert np.array_equal(np.argmax(model(inputs).numpy(), axis=1), labels)


def test_without_biases_a_point_and_its_mirror_image_share_a_constant_score_sum():
    """Why the article's network cannot learn XOR completely: d(x) + d(−x) = 2·d(0) for any weights."""
    model = xor.ArticleNetwork(50, seed=3)
    for p in model.parameters():
        p.data = p.data * 5  # far from the start, as after long training
    points = np.vstack([INPUTS[:20], -INPUTS[:20], np.zeros((1, 2))])
    with no_grad():
        scores = model.layer2(model.layer1(Tensor(points)).sigmoid()).numpy()
    difference = scores[:, 1] - scores[:, 0]
    np.testing.assert_allclose(difference[:20] + difference[20:40], 2 * difference[40], atol=1e-9)


def test_article_network_without_biases_learns_part_of_xor_quickly():
    args = xor.parse_args(["--hidden", "3", "--lr", "2", "--steps", "1000", "--log-every", "1000"])
    model = xor.ArticleNetwork(args.hidden, seed=args.seed)
    history = xor.train(model, args, TRAIN_SET, TEST_SET)
    assert history["loss"][-1] < history["loss"][0]
    assert 0.6 <= history["train"][-1] < 1.0
