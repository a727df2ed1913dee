"""nn: layers, losses, optimisers and data, built only on tinygrad_edu's public names."""
from . import data
from .layers import Conv2d, Dropout, Embedding, Flatten, LayerNorm, MaxPool2d
from .losses import binary_cross_entropy, cross_entropy, l2_penalty, mse_loss
from .module import MLP, Linear, Module, ReLU, Sequential, Sigmoid, Tanh
from .optim import SGD, Adam, ExponentialLR, Optimizer, StepLR, clip_grad_norm
from .saving import load, save

__all__ = ["Module", "Linear", "Sequential", "Sigmoid", "Tanh", "ReLU", "MLP",
           "Conv2d", "MaxPool2d", "Flatten", "Dropout", "Embedding", "LayerNorm",
           "mse_loss", "cross_entropy", "binary_cross_entropy", "l2_penalty",
           "Optimizer", "SGD", "Adam", "clip_grad_norm", "StepLR", "ExponentialLR",
           "save", "load", "data"]
