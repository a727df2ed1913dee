"""Convolution and pooling on (N, C, H, W) tensors, as PyTorch lays them out.

All three ops rest on one idea, im2col: cut every kh×kw window out of the image
(numpy's sliding_window_view does it without copying), so that a convolution
is one matrix product of the windows with the flattened kernels, and a pooling
is a max or a mean over each window. Going back, each window's gradient is
added onto the pixels it was cut from (col2im). Windows overlap when the stride
is smaller than the kernel, so a pixel collects gradient from every window
that read it.

im2col and col2im are ops themselves (each one's backward is the other), so
the backwards below are built from differentiable pieces and create_graph
gives second derivatives of convolutions and poolings too.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .errors import ShapeError
from .ops import apply_or_forward
from .tensor import Function, Tensor, tensor_method


def _pair(value, name, op):
    """An int or a pair of ints as a pair (height, width)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _windows(x, kernel, stride, padding):
    """Every kernel-sized window of x (N, C, H, W) as a view of shape (N, C, OH, OW, kh, kw):
    out[n, c, i, j] is the window whose top-left pixel is (i·stride, j·stride) of the padded image."""
    (ph, pw), (sh, sw) = padding, stride
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    return sliding_window_view(x, kernel, axis=(2, 3))[:, :, ::sh, ::sw]


def _scatter_windows(windows, shape, stride, padding):
    """col2im: add each window (N, C, OH, OW, kh, kw) back onto the pixels of the
    image of `shape` it was cut from; overlapping windows add up."""
    (ph, pw), (sh, sw) = padding, stride
    n, c, out_h, out_w, kh, kw = windows.shape
    padded = np.zeros((n, c, shape[2] + 2 * ph, shape[3] + 2 * pw), dtype=windows.dtype)
    # Kernel offset (i, j) of every window lands on a strided grid of pixels: one slice-add per offset.
    for i in range(kh):
        for j in range(kw):
            padded[:, :, i:i + sh * out_h:sh, j:j + sw * out_w:sw] += windows[:, :, :, :, i, j]
    return padded[:, :, ph:ph + shape[2], pw:pw + shape[3]]


class Im2Col(Function):
    """The windows of an image, (N, C, H, W) -> (N, C, OH, OW, kh, kw), copied out of it."""
    derivatives = ("col2im",)

    @staticmethod
    def forward(ctx, x, kernel, stride, padding):
        ctx.shape, ctx.stride, ctx.padding = x.shape, stride, padding
        return np.ascontiguousarray(_windows(x, kernel, stride, padding))

    @staticmethod
    def backward(ctx, g):
        return col2im(g, ctx.shape, ctx.stride, ctx.padding)


class Col2Im(Function):
    """Windows added back onto an image of the given shape: the transpose of Im2Col."""
    derivatives = ("im2col",)

    @staticmethod
    def forward(ctx, windows, shape, stride, padding):
        ctx.kernel, ctx.stride, ctx.padding = windows.shape[4:], stride, padding
        return _scatter_windows(windows, shape, stride, padding)

    @staticmethod
    def backward(ctx, g):
        return im2col(g, ctx.kernel, ctx.stride, ctx.padding)


def im2col(x, kernel, stride, padding):
    return apply_or_forward(Im2Col, x, kernel=kernel, stride=stride, padding=padding)


def col2im(windows, shape, stride, padding):
    return apply_or_forward(Col2Im, windows, shape=shape, stride=stride, padding=padding)


def _as_rows(windows):
    """Windows (N, C, OH, OW, kh, kw) as a matrix with one row per output pixel: (N·OH·OW, C·kh·kw)."""
    n, c, out_h, out_w, kh, kw = windows.shape
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * out_h * out_w, c * kh * kw)


class Conv2d(Function):
    derivatives = ("col2im(· {b})", "im2col({a})")

    @staticmethod
    def forward(ctx, x, weight, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding = stride, padding
        windows = _windows(x, weight.shape[2:], stride, padding)
        n, _, out_h, out_w = windows.shape[:4]
        ctx.windows_shape = windows.shape
        # One matrix product: every window (a row) times every kernel (a column).
        out = _as_rows(windows) @ weight.reshape(weight.shape[0], -1).T
        return out.reshape(n, out_h, out_w, -1).transpose(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        n, c, out_h, out_w, kh, kw = ctx.windows_shape
        stride, padding = ctx.stride, ctx.padding
        g_rows = g.transpose(0, 2, 3, 1).reshape(-1, weight.shape[0])  # one row per output pixel
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            window_grads = (g_rows @ weight.reshape(weight.shape[0], -1)).reshape(n, out_h, out_w, c, kh, kw)
            grad_x = col2im(window_grads.transpose(0, 3, 1, 2, 4, 5), x.shape, stride, padding)
        if ctx.needs_input_grad[1]:
            # The windows are cut again rather than kept from forward: under create_graph
            # they must be a function of x, so that d(grad_w)/dx is right.
            grad_w = (g_rows.T @ _as_rows(im2col(x, (kh, kw), stride, padding))).reshape(weight.shape)
        return grad_x, grad_w


class MaxPool2d(Function):
    derivatives = ("[{x}=window max]",)

    @staticmethod
    def forward(ctx, x, kernel, stride):
        ctx.shape, ctx.stride = x.shape, stride
        windows = _windows(x, kernel, stride, (0, 0))
        out = windows.max(axis=(4, 5))
        # Ties share the gradient equally, as in max(): it is the derivative of the max value.
        is_max = windows == out[..., None, None]
        ctx.save_for_backward(is_max / is_max.sum(axis=(4, 5), keepdims=True))
        return out

    @staticmethod
    def backward(ctx, g):
        share, = ctx.saved_tensors
        return col2im(g.reshape(g.shape + (1, 1)) * share, ctx.shape, ctx.stride, (0, 0))


class AvgPool2d(Function):
    derivatives = ("1/(kh·kw)",)

    @staticmethod
    def forward(ctx, x, kernel, stride):
        ctx.shape, ctx.kernel, ctx.stride = x.shape, kernel, stride
        return _windows(x, kernel, stride, (0, 0)).mean(axis=(4, 5))

    @staticmethod
    def backward(ctx, g):
        kh, kw = ctx.kernel
        share = np.full(ctx.kernel, 1 / (kh * kw), dtype=g.dtype)  # each pixel of a window gets 1/(kh·kw)
        return col2im(g.reshape(g.shape + (1, 1)) * share, ctx.shape, ctx.stride, (0, 0))


def _check_image(x, op):
    if x.ndim != 4:
        raise ShapeError(f"{op}: input must have shape (N, C, H, W), got {x.shape}")


def _check_fits(x, kernel, padding, op):
    height, width = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if kernel[0] > height or kernel[1] > width or min(kernel) < 1:
        raise ShapeError(f"{op}: kernel {kernel} does not fit an input of shape {x.shape} with padding {padding}")


def _check_stride(stride, op):
    if min(stride) < 1:
        raise ValueError(f"{op}: stride must be at least 1, got {stride}")


@tensor_method
def conv2d(self, weight, bias=None, stride=1, padding=0):
    """2-D cross-correlation of (N, C, H, W) with weight (out_channels, C, kh, kw), as torch's conv2d."""
    stride, padding = _pair(stride, "stride", "conv2d"), _pair(padding, "padding", "conv2d")
    _check_image(self, "conv2d")
    if weight.ndim != 4 or weight.shape[1] != self.shape[1]:
        raise ShapeError(f"conv2d: weight of shape {weight.shape} does not fit an input of shape {self.shape}: "
                         f"it needs shape (out_channels, {self.shape[1]}, kh, kw)")
    _check_fits(self, weight.shape[2:], padding, "conv2d")
    _check_stride(stride, "conv2d")
    if min(padding) < 0:
        raise ValueError(f"conv2d: padding must not be negative, got {padding}")
    out = Conv2d.apply(self, weight, stride=stride, padding=padding)
    if bias is None:
        return out
    if bias.shape != (weight.shape[0],):
        raise ShapeError(f"conv2d: bias of shape {bias.shape} does not fit {weight.shape[0]} output channels")
    return out + bias.reshape(1, -1, 1, 1)


def _pool(x, op, name, kernel_size, stride):
    kernel = _pair(kernel_size, "kernel_size", name)
    stride = kernel if stride is None else _pair(stride, "stride", name)
    _check_image(x, name)
    _check_fits(x, kernel, (0, 0), name)
    _check_stride(stride, name)
    return op.apply(x, kernel=kernel, stride=stride)


@tensor_method
def max_pool2d(self, kernel_size, stride=None):
    """Largest value of each kernel_size window of (N, C, H, W); stride defaults to kernel_size."""
    return _pool(self, MaxPool2d, "max_pool2d", kernel_size, stride)


@tensor_method
def avg_pool2d(self, kernel_size, stride=None):
    """Mean of each kernel_size window of (N, C, H, W); stride defaults to kernel_size."""
    return _pool(self, AvgPool2d, "avg_pool2d", kernel_size, stride)
