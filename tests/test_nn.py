"""nn: modules, losses, optimisers, schedules and saving."""
import os

import numpy as np
import pytest

import nn
from tinygrad_edu import Tensor, gradcheck


def float64(array, requires_grad=True):
    return Tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def random(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --- modules ------------------------------------------------------------------

def test_linear_initialises_in_the_articles_range_and_is_reproducible():
    layer = nn.Linear(4, 50, seed=1)
    bound = 1 / np.sqrt(4)
    assert layer.weight.shape == (4, 50) and layer.bias.shape == (50,)
    assert np.all(np.abs(layer.weight.data) <= bound) and layer.weight.data.max() > 0.9 * bound
    assert layer.weight.dtype == np.float32
    assert np.array_equal(layer.weight.data, nn.Linear(4, 50, seed=1).weight.data)
    assert not np.array_equal(layer.weight.data, nn.Linear(4, 50, seed=2).weight.data)


def test_linear_without_bias_has_only_a_weight():
    layer = nn.Linear(2, 3, bias=False)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    x = random(5, 2)
    assert np.allclose(layer(Tensor(x)).data, x @ layer.weight.data)


def test_linear_names_the_shapes_when_the_input_does_not_fit():
    with pytest.raises(ValueError, match=r"Linear\(2→3\).*\(5, 4\).*2 features"):
        nn.Linear(2, 3)(Tensor(random(5, 4)))


def test_mlp_names_parameters_like_pytorch_and_ends_without_activation():
    model = nn.MLP([2, 3, 4, 2], activation="tanh", seed=0)
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    x = random(6, 2)
    expected = x
    for i, layer in enumerate(model):
        expected = np.tanh(expected) if i % 2 else expected @ layer.weight.data + layer.bias.data
    assert np.allclose(model(Tensor(x)).data, expected, atol=1e-6)


def test_mlp_seed_makes_it_reproducible_and_layers_differ():
    a, b = nn.MLP([3, 3, 3], seed=7), nn.MLP([3, 3, 3], seed=7)
    assert all(np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters()))
    assert not np.array_equal(a[0].weight.data, a[2].weight.data)


def test_mlp_rejects_unknown_activation_and_too_few_sizes():
    with pytest.raises(ValueError, match="'softplus'"):
        nn.MLP([2, 2], activation="softplus")
    with pytest.raises(ValueError, match=r"\[2\]"):
        nn.MLP([2])


def test_sequential_rejects_what_is_not_a_module():
    with pytest.raises(TypeError, match="argument 1 is a function"):
        nn.Sequential(nn.Tanh(), lambda x: x)


def test_call_labels_ops_with_nested_module_scopes():
    model = nn.MLP([2, 3, 2])
    out = model(Tensor(random(4, 2)))
    assert out.op.scope == "MLP/Linear(3→2)"
    assert out.op.inputs[0].op.inputs[0].op.scope == "MLP/Sigmoid"
    outside = out.sum()
    assert outside.op.scope is None


def test_zero_grad_clears_every_parameter():
    model = nn.MLP([2, 3, 2])
    model(Tensor(random(4, 2))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_repr_shows_the_layers():
    assert repr(nn.MLP([2, 3, 2])) == "MLP(\n  (0): Linear(2→3)\n  (1): Sigmoid\n  (2): Linear(3→2)\n)"


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_layer_gradients_pass_gradcheck(activation):
    model = nn.MLP([3, 4, 2], activation=activation, seed=0, dtype=np.float64)
    first, second = model[0], model[2]

    def run(x, w1, b1, w2, b2):
        first.weight, first.bias, second.weight, second.bias = w1, b1, w2, b2
        return model(x)

    x = random(5, 3) + 0.1  # away from relu's kink at 0
    assert gradcheck(run, [float64(x), first.weight, first.bias, second.weight, second.bias])


# --- state dicts --------------------------------------------------------------

def test_state_dict_is_a_snapshot_and_load_state_dict_writes_in_place():
    model = nn.MLP([2, 3, 2], seed=0)
    state = model.state_dict()
    weight = model[0].weight
    weight.data = weight.data + 1
    assert not np.array_equal(state["0.weight"], weight.data)
    model.load_state_dict(state)
    assert model[0].weight is weight and np.array_equal(weight.data, state["0.weight"])


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    model = nn.MLP([2, 3, 2], seed=0)
    before = model.state_dict()
    bad = dict(before, extra=np.zeros(2))
    bad["0.weight"] = np.zeros((3, 2))
    del bad["2.bias"]
    with pytest.raises(ValueError) as error:
        model.load_state_dict(bad)
    message = str(error.value)
    assert "missing '2.bias'" in message and "unexpected 'extra'" in message
    assert "'0.weight' has shape (3, 2) in the state but (2, 3)" in message
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


# --- losses -------------------------------------------------------------------

def test_mse_loss_matches_numpy_and_gradcheck():
    pred, target = random(4, 3), random(4, 3, seed=1)
    assert np.isclose(nn.mse_loss(float64(pred), target).item(), np.mean((pred - target) ** 2))
    assert np.isclose(nn.mse_loss(float64(pred), target, reduction="sum").item(), np.sum((pred - target) ** 2))
    assert gradcheck(lambda p: nn.mse_loss(p, target), [float64(pred)])


def test_losses_name_shapes_and_reductions():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        nn.mse_loss(float64(random(4, 3)), random(4, 2))
    with pytest.raises(ValueError, match="'average'"):
        nn.mse_loss(float64(random(2)), random(2), reduction="average")


def test_cross_entropy_matches_a_direct_formula_for_indices_and_one_hot():
    logits, labels = random(5, 3), np.array([0, 2, 1, 1, 0])
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -np.mean(log_probs[np.arange(5), labels])
    assert np.isclose(nn.cross_entropy(float64(logits), labels).item(), expected)
    assert np.isclose(nn.cross_entropy(float64(logits), np.eye(3)[labels]).item(), expected)
    assert np.isclose(nn.cross_entropy(float64(logits), Tensor(labels)).item(), expected)


def test_cross_entropy_is_finite_for_huge_logits_and_passes_gradcheck():
    logits = np.array([[1000.0, -1000.0], [-500.0, 500.0]])
    assert np.isclose(nn.cross_entropy(float64(logits), [0, 0]).item(), 500.0)
    labels = np.array([1, 0, 2, 2])
    assert gradcheck(lambda z: nn.cross_entropy(z, labels), [float64(random(4, 3))])


def test_cross_entropy_rejects_bad_labels():
    with pytest.raises(ValueError, match="0..2.*from 0 to 3"):
        nn.cross_entropy(float64(random(2, 3)), [0, 3])
    with pytest.raises(ValueError, match=r"\(4,\).*\(2, 3\)"):
        nn.cross_entropy(float64(random(2, 3)), [0, 1, 2, 0])


def test_binary_cross_entropy_matches_numpy_stays_finite_and_passes_gradcheck():
    probs, target = np.array([0.1, 0.8, 0.5]), np.array([0.0, 1.0, 1.0])
    expected = -np.mean(target * np.log(probs) + (1 - target) * np.log(1 - probs))
    assert np.isclose(nn.binary_cross_entropy(float64(probs), target).item(), expected)
    certain_and_wrong = Tensor([0.0, 1.0], requires_grad=True)  # float32, where 1/1e-30 still fits
    loss = nn.binary_cross_entropy(certain_and_wrong, np.array([1.0, 1.0]))
    loss.backward()
    assert np.isclose(loss.item(), -np.log(1e-30) / 2) and np.all(np.isfinite(certain_and_wrong.grad.data))
    assert gradcheck(lambda p: nn.binary_cross_entropy(p, target), [float64(probs)])
    with pytest.raises(ValueError, match=r"\[0, 1\].*1.5"):
        nn.binary_cross_entropy(float64([0.5, 1.5]), np.array([1.0, 1.0]))


def test_l2_penalty_sums_squares_of_every_parameter():
    a, b = float64(random(2, 3)), float64(random(4))
    assert np.isclose(nn.l2_penalty([a, b]).item(), np.sum(a.data ** 2) + np.sum(b.data ** 2))
    assert gradcheck(lambda x, y: nn.l2_penalty([x, y]), [a, b])
    with pytest.raises(ValueError, match="no parameters"):
        nn.l2_penalty([])


# --- optimisers ---------------------------------------------------------------

def parameter_with_grad(value, gradient):
    p = float64(value)
    p.grad = float64(gradient, requires_grad=False)
    return p


def test_sgd_step_with_momentum_and_weight_decay_follows_pytorchs_rule():
    p = parameter_with_grad([1.0, -2.0], [0.5, 0.5])
    optimizer = nn.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    optimizer.step()   # v = g + wd·p
    v = np.array([0.5, 0.5]) + 0.01 * np.array([1.0, -2.0])
    expected = np.array([1.0, -2.0]) - 0.1 * v
    assert np.allclose(p.data, expected)
    optimizer.step()   # v = 0.9·v + g + wd·p
    v = 0.9 * v + 0.5 + 0.01 * expected
    assert np.allclose(p.data, expected - 0.1 * v)


def test_adam_first_step_moves_each_entry_by_lr():
    p = parameter_with_grad([1.0, -2.0, 3.0], [0.001, -50.0, 2.0])
    nn.Adam([p], lr=0.01).step()
    assert np.allclose(p.data, [1.0 - 0.01, -2.0 + 0.01, 3.0 - 0.01], atol=1e-6)


def test_optimisers_skip_parameters_without_grad_and_zero_grad_clears():
    used, unused = parameter_with_grad([1.0], [1.0]), float64([5.0])
    optimizer = nn.SGD([used, unused], lr=1.0)
    optimizer.step()
    assert used.data[0] == 0.0 and unused.data[0] == 5.0
    optimizer.zero_grad()
    assert used.grad is None


def test_optimisers_reject_empty_and_constant_params():
    with pytest.raises(ValueError, match="no parameters"):
        nn.SGD([], lr=0.1)
    with pytest.raises(ValueError, match=r"parameter 0 \(shape \(2,\)\) does not require grad"):
        nn.Adam([Tensor([1.0, 2.0])])
    with pytest.raises(ValueError, match="lr must be positive"):
        nn.SGD([float64([1.0])], lr=0)


@pytest.mark.parametrize("make", [lambda ps: nn.SGD(ps, lr=0.1, momentum=0.9), lambda ps: nn.Adam(ps, lr=0.05)])
def test_optimisers_minimise_a_quadratic(make):
    p = float64([3.0, -4.0])
    optimizer = make([p])
    for _ in range(300):
        optimizer.zero_grad()
        (p * p).sum().backward()
        optimizer.step()
    assert np.abs(p.data).max() < 0.05


def test_clip_grad_norm_returns_the_norm_before_and_scales_all_gradients():
    a, b = parameter_with_grad([3.0], [3.0]), parameter_with_grad([0.0], [4.0])
    assert nn.clip_grad_norm([a, b], max_norm=1.0) == pytest.approx(5.0)
    assert np.allclose([a.grad.data[0], b.grad.data[0]], [0.6, 0.8], atol=1e-6)
    assert nn.clip_grad_norm([a, b], max_norm=10.0) == pytest.approx(1.0, abs=1e-6)
    assert np.allclose([a.grad.data[0], b.grad.data[0]], [0.6, 0.8], atol=1e-6)  # under the limit: unchanged


def test_step_and_exponential_schedules_decay_the_learning_rate():
    optimizer = nn.SGD([float64([1.0])], lr=1.0)
    schedule = nn.StepLR(optimizer, step_size=2, gamma=0.5)
    rates = []
    for _ in range(5):
        schedule.step()
        rates.append(optimizer.lr)
    assert rates == [1.0, 0.5, 0.5, 0.25, 0.25]
    optimizer = nn.SGD([float64([1.0])], lr=0.1)
    schedule = nn.ExponentialLR(optimizer, gamma=0.9)
    for _ in range(3):
        schedule.step()
    assert optimizer.lr == pytest.approx(0.1 * 0.9 ** 3)


# --- saving -------------------------------------------------------------------

def test_save_and_load_round_trip_bit_for_bit(tmp_path):
    saved = nn.MLP([2, 5, 3], seed=0, dtype=np.float64)
    path = tmp_path / "model.npz"
    nn.save(saved, path)
    loaded = nn.MLP([2, 5, 3], seed=1, dtype=np.float64)
    assert nn.load(loaded, path) is loaded
    for (name, p), (_, q) in zip(saved.named_parameters(), loaded.named_parameters()):
        assert p.data.tobytes() == q.data.tobytes() and p.dtype == q.dtype, name
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "model.npz"
    nn.save(nn.Linear(2, 2, seed=0), path)
    second = nn.Linear(2, 2, seed=1)
    nn.save(second, path)
    assert np.array_equal(nn.load(nn.Linear(2, 2, seed=0), path).weight.data, second.weight.data)


def saved_arrays(module, **changes):
    """module's state dict with entries replaced (value) or removed (None)."""
    state = module.state_dict()
    for name, value in changes.items():
        if value is None:
            del state[name]
        else:
            state[name] = value
    return state


@pytest.mark.parametrize("change, message", [
    ({"weight": np.zeros((3, 2))}, r"'weight' has shape \(3, 2\) in the state but \(2, 3\)"),
    ({"extra": np.zeros(1)}, "unexpected 'extra'"),
    ({"bias": None}, r"missing 'bias' \(shape \(3,\)\)"),
])
def test_load_of_a_file_that_does_not_fit_raises_and_changes_nothing(tmp_path, change, message):
    path = tmp_path / "model.npz"
    np.savez(path, **saved_arrays(nn.Linear(2, 3, seed=1), **change))
    model = nn.Linear(2, 3, seed=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match=message):
        nn.load(model, path)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_load_of_a_truncated_file_raises_and_changes_nothing(tmp_path):
    path = tmp_path / "model.npz"
    nn.save(nn.Linear(20, 30, seed=1), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    model = nn.Linear(20, 30, seed=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match="not a readable .npz file"):
        nn.load(model, path)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_load_refuses_pickled_objects(tmp_path):
    path = tmp_path / "model.npz"
    np.savez(path, weight=np.array([{"not": "numbers"}], dtype=object), bias=np.zeros(3))
    with pytest.raises(ValueError, match="'weight' has dtype object"):
        nn.load(nn.Linear(2, 3), path)


def test_load_of_a_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError):
        nn.load(nn.Linear(2, 3), tmp_path / "nothing.npz")


def test_load_of_a_plain_npy_file_says_it_is_not_npz(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="not a readable .npz file"):
        nn.load(nn.Linear(2, 3), path)


# --- data ---------------------------------------------------------------------

def test_xor_data_is_the_articles():
    inputs, targets = nn.data.xor()
    assert inputs.shape == (300, 2) and targets.shape == (300, 2)
    assert np.array_equal(inputs, np.random.RandomState(0).randn(300, 2))
    assert np.allclose(inputs[0], [1.76405235, 0.40015721]) and np.array_equal(targets[0], [1, 0])
    classes = np.argmax(targets, axis=1)
    assert np.array_equal(classes == 1, np.sign(inputs[:, 0]) != np.sign(inputs[:, 1]))
    assert np.array_equal(targets.sum(axis=1), np.ones(300))
