"""Optimisers (SGD, Adam), gradient clipping and learning-rate schedules.

Updates change `p.data` in place under no_grad: the parameters stay the same
Tensor objects, so a module and its optimiser never drift apart.
"""
import numpy as np

from tinygrad_edu import no_grad


class Optimizer:
    """Holds the parameters and the learning rate; subclasses define update(p, grad, state)."""

    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got no parameters to optimise")
        for i, p in enumerate(self.params):
            if not p.requires_grad:
                raise ValueError(f"{type(self).__name__}: parameter {i} (shape {p.shape}) does not require grad")
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr}")
        self.lr = lr
        self.state = [{} for _ in self.params]  # per parameter: momentum buffers, Adam moments

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @no_grad()
    def step(self):
        for p, state in zip(self.params, self.state):
            if p.grad is not None:  # a parameter the loss did not use keeps its value
                self.update(p, p.grad.data, state)

    def update(self, p, grad, state):
        raise NotImplementedError


class SGD(Optimizer):
    """p ← p − lr·v, v = momentum·v + (grad + weight_decay·p), as PyTorch's SGD."""

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr)
        self.momentum, self.weight_decay = momentum, weight_decay

    def update(self, p, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * p.data
        if self.momentum:
            velocity = state.get("velocity")
            # The first step starts the velocity at the gradient itself, as PyTorch does.
            state["velocity"] = grad = grad.copy() if velocity is None else self.momentum * velocity + grad
        p.data = p.data - self.lr * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): steps scaled by running moments of the gradient, bias-corrected."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr)
        self.betas, self.eps = betas, eps

    def update(self, p, grad, state):
        beta1, beta2 = self.betas
        t = state["t"] = state.get("t", 0) + 1
        m = state["m"] = beta1 * state.get("m", 0) + (1 - beta1) * grad
        v = state["v"] = beta2 * state.get("v", 0) + (1 - beta2) * grad * grad
        # Early moments are biased towards their zero start; dividing by 1 - beta^t undoes that.
        p.data = p.data - self.lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + self.eps)


@no_grad()
def clip_grad_norm(params, max_norm):
    """Scale all gradients together so their joint L2 norm is at most max_norm; return the norm before."""
    params = [p for p in params if p.grad is not None]
    norm = float(np.sqrt(sum(np.sum(p.grad.data.astype(np.float64) ** 2) for p in params)))
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)  # the 1e-6 as PyTorch: never divide by a zero norm
        for p in params:
            p.grad.data = p.grad.data * scale
    return norm


class StepLR:
    """Multiply the optimiser's lr by gamma every step_size calls of step(), as PyTorch's StepLR."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if step_size < 1:
            raise ValueError(f"{type(self).__name__}: step_size must be at least 1, got {step_size}")
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.base_lr = optimizer.lr
        self.steps = 0

    def step(self):
        self.steps += 1
        # From base_lr each time, so thousands of steps don't pile up rounding.
        self.optimizer.lr = self.base_lr * self.gamma ** (self.steps // self.step_size)


class ExponentialLR(StepLR):
    """Multiply the lr by gamma after every step(): lr_t = lr_0 · gamma^t."""

    def __init__(self, optimizer, gamma):
        super().__init__(optimizer, step_size=1, gamma=gamma)
