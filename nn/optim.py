"""Optimisers (SGD, Adam), gradient clipping and learning-rate schedules.

A step gives each parameter a new, read-only array (`p.data = new`), so an array
that a graph saved never changes under it. Everything else an optimiser keeps,
the learning rate, step counts, momentum and Adam's moments, is an ndarray
updated in place, and nothing here turns an array into a Python number: a step
recorded by tinygrad_edu.jit then replays exactly (a Python number would be
frozen at its recorded value).

Rates and counts are 0-d float64 or int64 arrays. Under NumPy 2 a 0-d float64
array is float64 to promotion (a Python float is not), so each update uses them
cast to the parameter's dtype, as a Python float would have been.
"""
import numpy as np

from tinygrad_edu import Tensor


def _read_only(array):
    """array, locked: how a tensor takes a new array without copying it."""
    array.flags.writeable = False
    return array


def _as(value, dtype):
    """A 0-d rate in the dtype of the array it scales."""
    return value if value.dtype == dtype else value.astype(dtype)


class Optimizer:
    """Holds the parameters, the learning rate and per-parameter state; subclasses define update()."""

    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got no parameters to optimise")
        for i, p in enumerate(self.params):
            if not p.requires_grad:
                raise ValueError(f"{type(self).__name__}: parameter {i} (shape {p.shape}) does not require grad")
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr}")
        self._lr = np.array(lr, dtype=np.float64)
        self.state = [self.initial_state(p.data) for p in self.params]

    @property
    def lr(self):
        """The learning rate: a 0-d array that schedules change in place (float(optimizer.lr) reads it)."""
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr[...] = value

    def initial_state(self, data):
        """Per-parameter arrays, made up front so every step runs the same code (a jit recording needs that)."""
        return {}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p, state in zip(self.params, self.state):
            if p.grad is not None:  # a parameter the loss did not use keeps its value
                p.data = _read_only(self.update(p.data, p.grad.data, state))

    def update(self, data, grad, state):
        """The parameter's new array, from its array, its gradient and its state."""
        raise NotImplementedError


class SGD(Optimizer):
    """p ← p − lr·v, v = momentum·v + (grad + weight_decay·p), as PyTorch's SGD."""

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        self.momentum, self.weight_decay = momentum, weight_decay
        super().__init__(params, lr)

    def initial_state(self, data):
        # Starting at zero, the first step's velocity is the gradient itself, as PyTorch starts it.
        return {"velocity": np.zeros_like(data)} if self.momentum else {}

    def update(self, data, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        if self.momentum:
            velocity = state["velocity"]
            velocity *= self.momentum
            velocity += grad
            grad = velocity
        return data - _as(self.lr, data.dtype) * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): steps scaled by running moments of the gradient, bias-corrected."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.betas, self.eps = betas, eps
        super().__init__(params, lr)

    def initial_state(self, data):
        return {"step": np.zeros((), dtype=np.int64), "m": np.zeros_like(data), "v": np.zeros_like(data)}

    def update(self, data, grad, state):
        beta1, beta2 = self.betas
        state["step"] += 1
        m, v = state["m"], state["v"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        # Early moments are biased towards their zero start; dividing by 1 - beta^t undoes that.
        correction1 = _as(1 - beta1 ** state["step"], data.dtype)
        correction2 = _as(1 - beta2 ** state["step"], data.dtype)
        return data - _as(self.lr, data.dtype) * (m / correction1) / (np.sqrt(v / correction2) + self.eps)


def clip_grad_norm(params, max_norm):
    """Scale all gradients together so their joint L2 norm is at most max_norm; return the norm before
    (a 0-d float64 Tensor). Every gradient is multiplied by min(1, max_norm / (norm + 1e-6)), also when
    that is 1, so a step does the same work whatever the norm (the 1e-6 as PyTorch: never divide by 0)."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = np.sqrt(sum(np.sum(g.data.astype(np.float64) ** 2) for g in grads))
    scale = np.minimum(1.0, max_norm / (norm + 1e-6))
    for g in grads:
        g.data = _read_only(g.data * _as(scale, g.dtype))
    return Tensor(norm, dtype=np.float64)


class StepLR:
    """Multiply the optimiser's lr by gamma every step_size calls of step(), as PyTorch's StepLR."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if step_size < 1:
            raise ValueError(f"{type(self).__name__}: step_size must be at least 1, got {step_size}")
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.base_lr = optimizer.lr.copy()
        self.steps = np.zeros((), dtype=np.int64)

    def step(self):
        self.steps += 1
        # From base_lr each time, so thousands of steps don't pile up rounding.
        self.optimizer.lr = self.base_lr * self.gamma ** (self.steps // self.step_size)


class ExponentialLR(StepLR):
    """Multiply the lr by gamma after every step(): lr_t = lr_0 · gamma^t."""

    def __init__(self, optimizer, gamma):
        super().__init__(optimizer, step_size=1, gamma=gamma)
