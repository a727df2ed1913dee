"""The floor: each workload's maths in plain NumPy with gradients derived by hand.

This is the article's own method, and what an engine on NumPy cannot beat.
Every `*_gradients` function returns [loss, gradient per parameter], or for W5
[the Hessian-vector product], in the order the engines return them.
"""
import numpy as np

from . import workloads as w


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def xor_gradients(X, Y, W1, W2):
    n = len(X)
    h1 = sigmoid(X @ W1)
    h2 = sigmoid(h1 @ W2)
    loss = ((Y - h2) ** 2).sum() / (2 * n) + w.L2 * ((W1 ** 2).sum() + (W2 ** 2).sum()) / (2 * n)
    d2 = (h2 - Y) * h2 * (1 - h2) / n
    d1 = (d2 @ W2.T) * h1 * (1 - h1)
    return [loss, X.T @ d1 + w.L2 * W1 / n, h1.T @ d2 + w.L2 * W2 / n]


def xor_hvp(X, Y, W1, W2, v):
    """Forward-mode tangent (along W1 + εv) of the hand-derived W1 gradient: d(gW1) = H v."""
    n = len(X)
    h1 = sigmoid(X @ W1)
    s1 = h1 * (1 - h1)
    dh1 = s1 * (X @ v)
    h2 = sigmoid(h1 @ W2)
    s2 = h2 * (1 - h2)
    dh2 = s2 * (dh1 @ W2)
    d2 = (h2 - Y) * s2 / n
    dd2 = (dh2 * s2 + (h2 - Y) * (1 - 2 * h2) * dh2) / n
    e1 = d2 @ W2.T
    dd1 = (dd2 @ W2.T) * s1 + e1 * (1 - 2 * h1) * dh1
    return [X.T @ dd1 + w.L2 * v / n]


def mlp_gradients(X, Y, W1, b1, W2, b2, W3, b3):
    h1 = np.tanh(X @ W1 + b1)
    h2 = np.tanh(h1 @ W2 + b2)
    diff = h2 @ W3 + b3 - Y
    loss = (diff ** 2).mean()
    d3 = 2 * diff / diff.size
    d2 = (d3 @ W3.T) * (1 - h2 * h2)
    d1 = (d2 @ W2.T) * (1 - h1 * h1)
    return [loss, X.T @ d1, d1.sum(axis=0), h1.T @ d2, d2.sum(axis=0), h2.T @ d3, d3.sum(axis=0)]


def chain_gradients(x, n_ops):
    """tanh, *0.5, +1.0, sigmoid repeated; sum. Keeps each cycle's tanh and sigmoid for the way back."""
    kept = []
    for _ in range(n_ops // w.OPS_PER_CYCLE):
        t = np.tanh(x)
        x = sigmoid(t * 0.5 + 1.0)
        kept.append((t, x))
    g = np.ones_like(x)
    for t, s in reversed(kept):
        g = g * s * (1 - s) * 0.5 * (1 - t * t)
    return [x.sum(), g]


def training(gradients_of, constants, params, lr=None):
    """(step, gradients) for the engines' timing loop; step also updates params in place at lr."""
    def gradients():
        return gradients_of(*constants, *params)

    def step():
        values = gradients()
        if lr is not None:
            for p, g in zip(params, values[1:]):
                p -= lr * g
    return step, gradients


def make(name):
    """(step, gradients) of workload `name` done by hand."""
    if name in w.XOR_HIDDEN:
        X, Y, W1, W2 = w.xor(w.XOR_HIDDEN[name])
        return training(xor_gradients, [X, Y], [W1, W2], w.XOR_LR)
    if name == "W2":
        X, Y, params = w.mlp()
        return training(mlp_gradients, [X, Y], params, w.MLP_LR)
    if name in w.CHAIN_OPS:
        return training(chain_gradients, [w.chain_start(name), w.CHAIN_OPS[name]], [])
    if name == "W5":
        return training(xor_hvp, [*w.xor(3), w.hvp_direction()], [])
    raise KeyError(name)
