"""The layers beyond the MLP: Conv2d, MaxPool2d, Flatten, Dropout, Embedding, LayerNorm.

Each starts its parameters as PyTorch does, so results compare with PyTorch's,
and each is a Module, so state_dict, save/load and drawing boxes work as for Linear.
"""
import numpy as np

from tinygrad_edu import Tensor

from .losses import plain
from .module import Module


def _pair(value):
    return (value, value) if isinstance(value, (int, np.integer)) else tuple(value)


class Conv2d(Module):
    """2-D convolution of (N, in_channels, H, W) images with out_channels learned kernels.

    Weight (out_channels, in_channels, kh, kw) and bias start uniform in
    [-1, 1) / sqrt(in_channels·kh·kw), PyTorch's default.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, seed=None,
                 dtype=np.float32):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), stride, padding
        rng = np.random.default_rng(seed)
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1 / np.sqrt(fan_in)
        self.weight = Tensor(rng.uniform(-bound, bound, (out_channels, in_channels) + self.kernel_size),
                             requires_grad=True, dtype=dtype, name="weight")
        self.bias = (Tensor(rng.uniform(-bound, bound, out_channels), requires_grad=True, dtype=dtype, name="bias")
                     if bias else None)

    def forward(self, x):
        return x.conv2d(self.weight, self.bias, stride=self.stride, padding=self.padding)

    def label(self):
        kh, kw = self.kernel_size
        return f"Conv2d({self.in_channels}→{self.out_channels}, {kh}×{kw})"


class MaxPool2d(Module):
    """Largest value of each kernel_size window; stride defaults to kernel_size."""

    def __init__(self, kernel_size, stride=None):
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x):
        return x.max_pool2d(self.kernel_size, self.stride)


class Flatten(Module):
    """(N, ...) -> (N, everything else), as torch.nn.Flatten: the bridge from images to Linear."""

    def forward(self, x):
        return x.reshape(x.shape[0], -1)


class Dropout(Module):
    """In training, zeroes each element with probability p and scales the rest by 1/(1-p),
    so the expected output is the input; in eval mode it passes the input through."""

    def __init__(self, p=0.5, seed=None):
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p = p
        # A new mask each call, the same sequence for the same seed; jit records the draws as draws.
        self.rng = np.random.default_rng(seed)

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0
        keep = Tensor(self.rng.random(x.shape) >= self.p, dtype=x.dtype)  # 1 where kept, 0 where dropped
        return x * keep / (1 - self.p)

    def label(self):
        return f"Dropout(p={self.p})"


class Embedding(Module):
    """A table of num_embeddings learned vectors of size embedding_dim; indices pick its rows.

    The weight starts standard normal, as in PyTorch. The lookup is indexing,
    weight[indices], so a row picked twice gets both gradients added.
    """

    def __init__(self, num_embeddings, embedding_dim, seed=None, dtype=np.float32):
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        rng = np.random.default_rng(seed)
        self.weight = Tensor(rng.standard_normal((num_embeddings, embedding_dim)), requires_grad=True, dtype=dtype,
                             name="weight")

    def forward(self, indices):
        indices = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
        if indices.dtype.kind not in "iu":
            raise TypeError(f"{self.label()}: indices must be integers, got dtype {indices.dtype}")
        if plain(indices) and indices.size and (indices.min() < 0 or indices.max() >= self.num_embeddings):
            raise IndexError(f"{self.label()}: indices must lie in 0..{self.num_embeddings - 1}, "
                             f"got values from {indices.min()} to {indices.max()}")
        return self.weight[indices]

    def label(self):
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"


class LayerNorm(Module):
    """Normalises the last axis (of size dim) to mean 0 and variance 1, then scales by weight
    and shifts by bias (learned, starting at 1 and 0). The variance is the biased one, as torch."""

    def __init__(self, dim, eps=1e-5, dtype=np.float32):
        self.dim, self.eps = dim, eps
        self.weight = Tensor(np.ones(dim), requires_grad=True, dtype=dtype, name="weight")
        self.bias = Tensor(np.zeros(dim), requires_grad=True, dtype=dtype, name="bias")

    def forward(self, x):
        if x.shape[-1:] != (self.dim,):
            raise ValueError(f"{self.label()}: input of shape {x.shape} does not end in {self.dim} features")
        centred = x - x.mean(axis=-1, keepdims=True)
        variance = centred.square().mean(axis=-1, keepdims=True)
        return centred / (variance + self.eps).sqrt() * self.weight + self.bias

    def label(self):
        return f"LayerNorm({self.dim})"
