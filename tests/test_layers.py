"""nn's layers beyond the MLP: Conv2d, MaxPool2d, Flatten, Dropout, Embedding, LayerNorm, train()/eval()."""
import numpy as np
import pytest

import nn
from tinygrad_edu import Tensor, gradcheck, gradgradcheck


def random(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --- Conv2d, MaxPool2d, Flatten ----------------------------------------------------------

def test_conv2d_shapes_with_stride_and_padding():
    x = Tensor(random(2, 3, 8, 8))
    assert nn.Conv2d(3, 5, 3)(x).shape == (2, 5, 6, 6)
    assert nn.Conv2d(3, 5, 3, padding=1)(x).shape == (2, 5, 8, 8)
    assert nn.Conv2d(3, 5, (3, 1), stride=2, padding=(1, 0))(x).shape == (2, 5, 4, 4)


def test_conv2d_initialises_like_pytorch_and_is_reproducible():
    layer = nn.Conv2d(4, 16, 3, seed=1)
    bound = 1 / np.sqrt(4 * 3 * 3)  # PyTorch: kaiming_uniform(a=√5) gives 1/√fan_in, as does its bias
    assert layer.weight.shape == (16, 4, 3, 3) and layer.bias.shape == (16,)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32 and np.all(np.abs(p.data) <= bound)
    assert layer.weight.data.max() > 0.9 * bound and layer.weight.data.min() < -0.9 * bound
    assert abs(layer.weight.data.std() - bound / np.sqrt(3)) < 0.1 * bound  # uniform's std is bound/√3
    assert np.array_equal(layer.weight.data, nn.Conv2d(4, 16, 3, seed=1).weight.data)
    assert [name for name, _ in nn.Conv2d(1, 2, 3, bias=False).named_parameters()] == ["weight"]


def test_conv2d_computes_conv2d_of_its_parameters():
    layer = nn.Conv2d(2, 3, 2, stride=2, dtype=np.float64)
    x = Tensor(random(1, 2, 4, 4))
    expected = x.conv2d(layer.weight, layer.bias, stride=2)
    np.testing.assert_array_equal(layer(x).data, expected.data)
    assert gradcheck(lambda w, b: nn.Conv2d.forward(layer, x), [layer.weight, layer.bias])


def test_a_small_cnn_has_pytorch_names_saves_and_loads(tmp_path):
    def cnn(seed):
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, seed=seed), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(4 * 4 * 4, 10, seed=seed))
    model = cnn(0)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "4.weight", "4.bias"]
    x = Tensor(random(3, 1, 8, 8))
    assert model(x).shape == (3, 10)
    nn.save(model, tmp_path / "cnn.npz")
    other = nn.load(cnn(1), tmp_path / "cnn.npz")
    np.testing.assert_array_equal(other(x).data, model(x).data)


def test_ops_are_labelled_with_the_layer_that_made_them_for_drawings():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, seed=0), nn.MaxPool2d(2), nn.Flatten(), nn.LayerNorm(8))
    out = model(Tensor(random(1, 1, 6, 6)))
    ops = {}
    stack = [out]
    while stack:  # every op behind out, by name
        t = stack.pop()
        if t.op is not None:
            ops.setdefault(t.op.name, t.op.scope)
            stack.extend(t.op.inputs)
    assert ops["Conv2d"] == "Sequential/Conv2d(1→2, 3×3)"
    assert ops["MaxPool2d"] == "Sequential/MaxPool2d"
    assert ops["Reshape"] == "Sequential/Flatten"
    assert ops["Sqrt"] == "Sequential/LayerNorm(8)"


def test_max_pool_and_flatten_layers():
    x = Tensor(np.arange(32.0).reshape(2, 1, 4, 4))
    pooled = nn.MaxPool2d(2)(x)
    np.testing.assert_array_equal(pooled.data[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(nn.MaxPool2d(3, stride=1)(x).data[1, 0], [[26, 27], [30, 31]])
    assert nn.Flatten()(pooled).shape == (2, 4)
    np.testing.assert_array_equal(nn.Flatten()(pooled).data[1], [21, 23, 29, 31])


# --- Dropout and train()/eval() ------------------------------------------------------------

def test_dropout_zeroes_about_p_and_scales_the_rest_to_keep_the_mean():
    x = Tensor(np.ones((200, 500)))
    out = nn.Dropout(0.3, seed=0)(x).data
    dropped = np.mean(out == 0)
    assert abs(dropped - 0.3) < 0.005  # 100,000 draws: the standard error is 0.0015
    np.testing.assert_allclose(out[out != 0], 1 / 0.7)
    assert abs(out.mean() - 1) < 0.01


def test_dropout_gradient_is_the_same_mask_times_the_scale():
    x = Tensor(random(50, 40), requires_grad=True)
    out = nn.Dropout(0.5, seed=3)(x)
    out.sum().backward()
    kept = out.data != 0
    np.testing.assert_allclose(x.grad.data, kept * 2.0)


def test_dropout_is_seeded_draws_a_new_mask_each_call_and_is_the_identity_in_eval():
    x = Tensor(np.ones((10, 10)))
    a, b = nn.Dropout(seed=5), nn.Dropout(seed=5)
    first = a(x).data
    np.testing.assert_array_equal(first, b(x).data)
    assert not np.array_equal(first, a(x).data)
    a.eval()
    assert a(x) is x
    assert a.train() is a and a.training
    assert nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, 0)
    with pytest.raises(ValueError, match="p must be a probability"):
        nn.Dropout(1.5)


def test_train_and_eval_reach_every_child():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Dropout(), nn.ReLU()))
    assert model.training and model[1][0].training  # training is the default, as in PyTorch
    assert model.eval() is model
    assert not any(m.training for m in (model, model[0], model[1], model[1][0], model[1][1]))
    model.train()
    assert all(m.training for m in (model, model[0], model[1], model[1][0], model[1][1]))
    assert model.state_dict().keys() == {"0.weight", "0.bias"}


# --- Embedding -----------------------------------------------------------------------------

def test_embedding_picks_rows_of_a_standard_normal_table():
    table = nn.Embedding(1000, 8, seed=0)
    assert table.weight.shape == (1000, 8) and table.weight.dtype == np.float32
    assert abs(table.weight.data.std() - 1) < 0.05 and abs(table.weight.data.mean()) < 0.05
    indices = np.array([[3, 1], [999, 3]])
    out = table(indices)
    assert out.shape == (2, 2, 8)
    np.testing.assert_array_equal(out.data, table.weight.data[indices])
    np.testing.assert_array_equal(table(Tensor(indices, dtype=np.int64)).data, out.data)
    np.testing.assert_array_equal(table([7]).data, table.weight.data[[7]])


def test_embedding_gradient_adds_up_over_repeated_indices():
    table = nn.Embedding(5, 3, seed=1)
    g = random(4, 3)
    table(np.array([2, 0, 2, 2])).backward(g)
    expected = np.zeros((5, 3))
    expected[0] = g[1]
    expected[2] = g[0] + g[2] + g[3]
    np.testing.assert_allclose(table.weight.grad.data, expected, rtol=1e-6)


def test_embedding_rejects_indices_out_of_range_or_not_integers():
    table = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match=r"Embedding\(4, 2\): indices must lie in 0..3, got values from 0 to 4"):
        table(np.array([0, 4]))
    with pytest.raises(TypeError, match="indices must be integers, got dtype float64"):
        table(np.array([0.0, 1.0]))


# --- LayerNorm -----------------------------------------------------------------------------

def test_layer_norm_against_a_hand_computation():
    norm = nn.LayerNorm(4, dtype=np.float64)
    x = Tensor([[1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 0.0, 0.0]], dtype=np.float64)
    # Row 1: mean 3, deviations (-2, -1, 0, 3), biased variance (4 + 1 + 0 + 9) / 4 = 3.5.
    expected_row = np.array([-2.0, -1.0, 0.0, 3.0]) / np.sqrt(3.5 + 1e-5)
    out = norm(x)
    np.testing.assert_allclose(out.data[0], expected_row, rtol=1e-12)
    np.testing.assert_array_equal(out.data[1], 0.0)  # a constant row: eps keeps it finite
    norm.weight = Tensor([1.0, 2.0, 0.5, -1.0], requires_grad=True)
    norm.bias = Tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    np.testing.assert_allclose(norm(x).data[0], expected_row * [1, 2, 0.5, -1] + [0, 1, 0, 1], rtol=1e-12)


def test_layer_norm_starts_at_identity_scale_and_learns_its_weight_and_bias():
    norm = nn.LayerNorm(3)
    assert [name for name, _ in norm.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(norm.weight.data, 1.0)
    np.testing.assert_array_equal(norm.bias.data, 0.0)
    x = Tensor(random(5, 2, 3))
    out = norm(x)
    np.testing.assert_allclose(out.data.mean(axis=-1), 0, atol=1e-6)
    np.testing.assert_allclose(out.data.var(axis=-1), 1, rtol=1e-3)
    out.sum().backward()
    np.testing.assert_allclose(norm.bias.grad.data, 10.0)  # 10 rows each add 1
    np.testing.assert_allclose(norm.weight.grad.data, out.data.reshape(-1, 3).sum(axis=0), atol=1e-5)


def test_layer_norm_gradient_matches_finite_differences():
    norm = nn.LayerNorm(5, dtype=np.float64)
    norm.weight = Tensor(random(5, seed=1), requires_grad=True)
    x = Tensor(random(3, 5, seed=2), requires_grad=True)
    assert gradcheck(lambda x, w, b: norm(x), [x, norm.weight, norm.bias])


def test_second_derivatives_through_conv2d_and_layer_norm_layers():
    conv, norm = nn.Conv2d(2, 2, 2, padding=1, seed=3, dtype=np.float64), nn.LayerNorm(4, dtype=np.float64)
    x = Tensor(random(1, 2, 3, 3, seed=4), requires_grad=True)
    assert gradgradcheck(lambda x, w: norm(nn.Conv2d.forward(conv, x).reshape(-1, 4)).tanh(), [x, conv.weight])


def test_layer_norm_names_the_shape_when_the_input_does_not_fit():
    with pytest.raises(ValueError, match=r"LayerNorm\(4\): input of shape \(2, 3\) does not end in 4 features"):
        nn.LayerNorm(4)(Tensor(random(2, 3)))
