"""conv2d, max_pool2d and avg_pool2d against loops that follow the definitions pixel by pixel
(and against PyTorch when it is installed). op_table.py checks their derivatives against
finite differences; here the values themselves are pinned."""
import numpy as np
import pytest

from tinygrad_edu import ShapeError, Tensor, grad

try:
    import torch
except ImportError:
    torch = None


def loop_conv2d(x, w, stride, padding):
    """out[n, o, i, j] = Σ_c,a,b x_padded[n, c, i·sh + a, j·sw + b] · w[o, c, a, b]."""
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, h, width = xp.shape
    o, c, kh, kw = w.shape
    out = np.zeros((n, o, (h - kh) // sh + 1, (width - kw) // sw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.einsum("ncab,ocab->no", window, w)
    return out


def loop_conv2d_grads(x, w, g, stride, padding):
    """The gradients of Σ g·conv2d(x, w), scattered back one output pixel at a time."""
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    grad_xp, grad_w = np.zeros_like(xp), np.zeros_like(w)
    kh, kw = w.shape[2:]
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
            grad_xp[:, :, rows, cols] += np.einsum("no,ocab->ncab", g[:, :, i, j], w)
            grad_w += np.einsum("no,ncab->ocab", g[:, :, i, j], xp[:, :, rows, cols])
    return grad_xp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]], grad_w


def loop_pool(x, kernel, stride, reduce):
    (kh, kw), (sh, sw) = kernel, stride
    out = np.zeros(x.shape[:2] + ((x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = reduce(x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw], axis=(2, 3))
    return out


def loop_max_pool_grad(x, g, kernel, stride):
    """Each window's gradient goes to its largest pixels, shared equally among ties."""
    (kh, kw), (sh, sw) = kernel, stride
    grad_x = np.zeros_like(x)
    for n, c, i, j in np.ndindex(g.shape):
        window = x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
        is_max = window == window.max()
        grad_x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw] += g[n, c, i, j] * is_max / is_max.sum()
    return grad_x


CONV_CASES = [  # x shape, weight shape, stride, padding
    ((2, 3, 7, 6), (4, 3, 3, 3), (1, 1), (0, 0)),
    ((1, 2, 8, 8), (3, 2, 3, 2), (2, 1), (1, 0)),
    ((3, 1, 5, 5), (2, 1, 5, 5), (1, 1), (2, 2)),
    ((2, 2, 9, 7), (2, 2, 2, 3), (3, 2), (1, 1)),  # strides that leave pixels unread
    ((1, 1, 4, 4), (1, 1, 1, 1), (1, 1), (0, 0)),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONV_CASES)
def test_conv2d_matches_the_loop_forward_and_backward(x_shape, w_shape, stride, padding):
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal(x_shape), requires_grad=True, dtype=np.float64)
    w = Tensor(rng.standard_normal(w_shape), requires_grad=True, dtype=np.float64)
    out = x.conv2d(w, stride=stride, padding=padding)
    expected = loop_conv2d(x.data, w.data, stride, padding)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    grad_x, grad_w = loop_conv2d_grads(x.data, w.data, g, stride, padding)
    np.testing.assert_allclose(x.grad.data, grad_x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.grad.data, grad_w, rtol=1e-12, atol=1e-12)


def test_conv2d_adds_one_bias_per_output_channel_and_its_gradient_sums_the_pixels():
    x = Tensor(np.ones((2, 1, 3, 3)))
    w = Tensor(np.zeros((2, 1, 2, 2)))
    b = Tensor([1.0, -2.0], requires_grad=True)
    out = x.conv2d(w, b)
    assert out.shape == (2, 2, 2, 2)
    np.testing.assert_array_equal(out.data[:, 0], 1.0)
    np.testing.assert_array_equal(out.data[:, 1], -2.0)
    out.sum().backward()
    np.testing.assert_array_equal(b.grad.data, [8.0, 8.0])  # 2 images × 2×2 pixels each


def test_conv2d_of_a_hand_example():
    # A 3×3 image and the kernel [[1, 0], [0, -1]]: each output is top-left minus bottom-right.
    x = Tensor(np.arange(9.0).reshape(1, 1, 3, 3), requires_grad=True)
    w = Tensor(np.array([[[[1.0, 0.0], [0.0, -1.0]]]]), requires_grad=True)
    out = x.conv2d(w)
    np.testing.assert_array_equal(out.data, [[[[-4.0, -4.0], [-4.0, -4.0]]]])
    out.sum().backward()
    # Every pixel's gradient counts the windows that read it, with the kernel's sign.
    np.testing.assert_array_equal(x.grad.data[0, 0], [[1, 1, 0], [1, 0, -1], [0, -1, -1]])
    np.testing.assert_array_equal(w.grad.data[0, 0], [[0 + 1 + 3 + 4, 1 + 2 + 4 + 5], [3 + 4 + 6 + 7, 4 + 5 + 7 + 8]])


def test_conv2d_keeps_float32():
    x = Tensor(np.ones((1, 2, 4, 4), dtype=np.float32), requires_grad=True)
    w = Tensor(np.ones((3, 2, 3, 3), dtype=np.float32), requires_grad=True)
    out = x.conv2d(w, padding=1)
    out.sum().backward()
    assert out.dtype == x.grad.dtype == w.grad.dtype == np.float32


def test_conv2d_second_derivative_of_a_known_function():
    # f = Σ conv2d(x, w)² is quadratic in x: its Hessian-vector product is 2·Kᵀ(K v).
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True, dtype=np.float64)
    w = Tensor(rng.standard_normal((3, 2, 3, 3)), dtype=np.float64)
    v = rng.standard_normal(x.shape)
    gx, = grad(x.conv2d(w, stride=2, padding=1).square().sum(), x, create_graph=True)
    hv, = grad((gx * v).sum(), x)
    kv = loop_conv2d(v, w.data, (2, 2), (1, 1))
    expected, _ = loop_conv2d_grads(v, w.data, 2 * kv, (2, 2), (1, 1))
    np.testing.assert_allclose(hv.data, expected, rtol=1e-10, atol=1e-12)


POOL_CASES = [  # x shape, kernel, stride
    ((2, 3, 6, 6), (2, 2), (2, 2)),
    ((1, 2, 7, 5), (3, 2), (1, 1)),  # overlapping windows
    ((1, 1, 7, 7), (3, 3), (2, 3)),
    ((2, 1, 5, 4), (2, 2), (3, 1)),  # strides that leave pixels unread
]


@pytest.mark.parametrize("x_shape, kernel, stride", POOL_CASES)
def test_max_pool2d_matches_the_loop(x_shape, kernel, stride):
    rng = np.random.default_rng(2)
    x = Tensor(rng.integers(-3, 4, x_shape), requires_grad=True, dtype=np.float64)  # small integers tie often
    out = x.max_pool2d(kernel, stride)
    np.testing.assert_array_equal(out.data, loop_pool(x.data, kernel, stride, np.max))
    g = rng.standard_normal(out.shape)
    out.backward(g)
    np.testing.assert_allclose(x.grad.data, loop_max_pool_grad(x.data, g, kernel, stride), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("x_shape, kernel, stride", POOL_CASES)
def test_avg_pool2d_matches_the_loop(x_shape, kernel, stride):
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal(x_shape), requires_grad=True, dtype=np.float64)
    out = x.avg_pool2d(kernel, stride)
    np.testing.assert_allclose(out.data, loop_pool(x.data, kernel, stride, np.mean), rtol=1e-12)
    # avg_pool2d is a conv2d with a constant kernel per channel, so their gradients agree.
    x2 = Tensor(x.data.reshape(-1, 1, *x_shape[2:]), requires_grad=True, dtype=np.float64)
    by_conv = x2.conv2d(Tensor(np.full((1, 1) + kernel, 1 / np.prod(kernel))), stride=stride)
    g = np.random.default_rng(4).standard_normal(out.shape)
    out.backward(g)
    by_conv.backward(g.reshape(by_conv.shape))
    np.testing.assert_allclose(x.grad.data, x2.grad.data.reshape(x_shape), rtol=1e-12)


def test_max_pool2d_shares_a_tied_maximum_equally():
    x = Tensor([[[[1.0, 5.0], [5.0, 5.0]]]], requires_grad=True)
    x.max_pool2d(2).sum().backward()
    np.testing.assert_allclose(x.grad.data[0, 0], [[0, 1 / 3], [1 / 3, 1 / 3]])


def test_pooling_stride_defaults_to_the_kernel_size():
    x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    np.testing.assert_array_equal(x.max_pool2d(2).data[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(x.avg_pool2d((2, 4)).data[0, 0], [[3.5], [11.5]])


def test_conv_and_pool_errors_name_the_op_and_the_shapes():
    x = Tensor(np.zeros((1, 2, 4, 4)))
    with pytest.raises(ShapeError, match=r"conv2d: weight of shape \(3, 1, 3, 3\).*\(1, 2, 4, 4\)"):
        x.conv2d(Tensor(np.zeros((3, 1, 3, 3))))
    with pytest.raises(ShapeError, match=r"conv2d: kernel \(5, 5\) does not fit"):
        x.conv2d(Tensor(np.zeros((3, 2, 5, 5))))
    with pytest.raises(ShapeError, match=r"conv2d: bias of shape \(2,\) does not fit 3 output channels"):
        x.conv2d(Tensor(np.zeros((3, 2, 3, 3))), Tensor(np.zeros(2)))
    with pytest.raises(ShapeError, match=r"max_pool2d: input must have shape \(N, C, H, W\), got \(4, 4\)"):
        Tensor(np.zeros((4, 4))).max_pool2d(2)
    with pytest.raises(ShapeError, match=r"avg_pool2d: kernel \(5, 5\) does not fit"):
        x.avg_pool2d(5)
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a pair of ints, got 1.5"):
        x.conv2d(Tensor(np.zeros((3, 2, 3, 3))), stride=1.5)
    with pytest.raises(ValueError, match=r"max_pool2d: stride must be at least 1, got \(0, 0\)"):
        x.max_pool2d(2, stride=0)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONV_CASES)
def test_conv2d_matches_pytorch(x_shape, w_shape, stride, padding):
    rng = np.random.default_rng(5)
    x_np, w_np, b_np = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    x, w, b = (Tensor(a, requires_grad=True, dtype=np.float64) for a in (x_np, w_np, b_np))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
    out = x.conv2d(w, b, stride, padding)
    expected = torch.nn.functional.conv2d(xt, wt, bt, stride, padding)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in ((x, xt), (w, wt), (b, bt)):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("x_shape, kernel, stride", POOL_CASES)
def test_pools_match_pytorch(x_shape, kernel, stride):
    x_np = np.random.default_rng(6).standard_normal(x_shape)
    for name in ("max_pool2d", "avg_pool2d"):
        x, xt = Tensor(x_np, requires_grad=True, dtype=np.float64), torch.tensor(x_np, requires_grad=True)
        out, expected = getattr(x, name)(kernel, stride), getattr(torch.nn.functional, name)(xt, kernel, stride)
        out.sum().backward()
        expected.sum().backward()
        np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-12)
