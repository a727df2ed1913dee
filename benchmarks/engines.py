"""The workloads for autodiff engines, written once for tinygrad_edu and PyTorch.

Both spell the maths alike (`@`, `.sigmoid()`, `.sum()`, `.backward()`, `.grad`,
`.data`, `grad(...)`), so an engine here is just how to make a tensor and how to
call `grad`. Each `make` returns (step, gradients) like floor.make; gradients
returns NumPy copies in the floor's order and leaves every .grad cleared.
"""
from collections import namedtuple


from . import workloads as w

Engine = namedtuple("Engine", "tensor grad")


def tinygrad_edu():
    import tinygrad_edu
    return Engine(tinygrad_edu.Tensor, tinygrad_edu.grad)


def torch():
    import torch
    torch.set_num_threads(1)
    return Engine(torch.tensor, torch.autograd.grad)


ENGINES = {"tinygrad_edu": tinygrad_edu, "torch": torch}


def to_numpy(t):
    return t.detach().numpy().copy()


def xor_loss(X, Y, W1, W2):
    h2 = ((X @ W1).sigmoid() @ W2).sigmoid()
    n = len(X)
    return ((Y - h2) ** 2).sum() / (2 * n) + w.L2 * ((W1 ** 2).sum() + (W2 ** 2).sum()) / (2 * n)


def mlp_loss(X, Y, W1, b1, W2, b2, W3, b3):
    h1 = (X @ W1 + b1).tanh()
    h2 = (h1 @ W2 + b2).tanh()
    return ((h2 @ W3 + b3 - Y) ** 2).mean()


def chain_loss(x, n_ops):
    for _ in range(n_ops // w.OPS_PER_CYCLE):
        x = (x.tanh() * 0.5 + 1.0).sigmoid()
    return x.sum()


def training(engine, loss_of, constants, params, lr=None, extra=()):
    """(step, gradients) of loss_of(*constants, *params, *extra); step also does SGD at lr."""
    constants = [engine.tensor(a) for a in constants]
    params = [engine.tensor(a, requires_grad=True) for a in params]

    def backward():
        loss = loss_of(*constants, *params, *extra)
        loss.backward()
        return loss

    def gradients():
        values = [to_numpy(backward())] + [to_numpy(p.grad) for p in params]
        for p in params:
            p.grad = None
        return values

    def step():
        backward()
        for p in params:
            if lr is not None:
                p.data = p.data - lr * p.grad.data
            p.grad = None
    return step, gradients


def hessian_vector_product(engine):
    """W5 by double backward: the gradient with a graph, then the gradient of <gradient, v>."""
    X, Y, W1, W2 = w.xor(3)
    X, Y, W2, v = (engine.tensor(a) for a in (X, Y, W2, w.hvp_direction()))
    W1 = engine.tensor(W1, requires_grad=True)

    def gradients():
        g, = engine.grad(xor_loss(X, Y, W1, W2), W1, create_graph=True)
        hv, = engine.grad((g * v).sum(), W1)
        return [to_numpy(hv)]
    return gradients, gradients


def make(engine_name, name):
    """(step, gradients) of workload `name` on the engine called engine_name."""
    engine = ENGINES[engine_name]()
    if name in w.XOR_HIDDEN:
        X, Y, W1, W2 = w.xor(w.XOR_HIDDEN[name])
        return training(engine, xor_loss, [X, Y], [W1, W2], w.XOR_LR)
    if name == "W2":
        X, Y, params = w.mlp()
        return training(engine, mlp_loss, [X, Y], params, w.MLP_LR)
    if name in w.CHAIN_OPS:
        return training(engine, chain_loss, [], [w.chain_start(name)], extra=[w.CHAIN_OPS[name]])
    if name == "W5":
        return hessian_vector_product(engine)
    raise KeyError(name)
