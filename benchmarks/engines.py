"""The workloads for autodiff engines, written once for tinygrad_edu and PyTorch.

Both spell the maths alike (`@`, `.sigmoid()`, `.sum()`, `.backward()`, `.grad`,
`.data`, `grad(...)`), so an engine here is how to make a tensor, how to call
`grad`, and what to do to a step: nothing (eager), or `tinygrad_edu.jit` (the
"jit" engine: the same step recorded on its first call and replayed after).
`without_protection` takes the eager engine's read-only arrays out for a while,
so the bench can show what that protection costs.
Each `make` returns (step, gradients) like floor.make; gradients returns NumPy
copies in the floor's order and leaves every .grad cleared.
"""
import contextlib
from collections import namedtuple


from . import workloads as w

Engine = namedtuple("Engine", "tensor grad compile")


def tinygrad_edu():
    import tinygrad_edu
    return Engine(tinygrad_edu.Tensor, tinygrad_edu.grad, lambda fn: fn)


@contextlib.contextmanager
def without_protection():
    """The eager engine with its protection against in-place changes taken out, inside the block only.

    Results stay writeable and a Tensor takes a writeable array as it is instead of
    copying it; everything else, the gradient copies included, is unchanged.
    It patches the engine's internals for the whole process: only for measuring.
    """
    import numpy as np

    import tinygrad_edu
    from tinygrad_edu import tensor
    locked, as_array = tensor._locked, tensor._as_array
    tensor._locked = lambda array: array if isinstance(array, np.ndarray) else np.asarray(array)
    tensor._as_array = lambda data, dtype: (  # the engine's own shortcut, less its read-only test
        data if isinstance(data, np.ndarray) and (dtype is None or data.dtype == dtype)
        and (dtype is not None or data.dtype.kind == "f") else as_array(data, dtype))
    try:
        if not (tinygrad_edu.Tensor([1.0]) + 1).data.flags.writeable:
            raise RuntimeError("benchmarks.engines.without_protection: the engine no longer locks arrays in "
                               "tensor._locked; take the protection out where it now is")
        yield
    finally:
        tensor._locked, tensor._as_array = locked, as_array


def jit():
    import tinygrad_edu
    return Engine(tinygrad_edu.Tensor, tinygrad_edu.grad, tinygrad_edu.jit)


def torch():
    import torch
    torch.set_num_threads(1)
    return Engine(torch.tensor, torch.autograd.grad, lambda fn: fn)


ENGINES = {"tinygrad_edu": tinygrad_edu, "jit": jit, "torch": torch}


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

    def loss_and_gradients():
        values = (backward(),) + tuple(p.grad for p in params)
        for p in params:
            p.grad = None
        return values

    def step():
        # Returns the loss (a training loop logs it), and the gradients when it updates nothing (the
        # chains): through jit, work whose results nothing reads is dropped, as any compiler drops it.
        loss = backward()
        results = (loss,) if lr is not None else (loss,) + tuple(p.grad for p in params)
        for p in params:
            if lr is not None:
                p.data = p.data - lr * p.grad.data
            p.grad = None
        return results
    return engine.compile(step), as_numpy(engine.compile(loss_and_gradients))


def as_numpy(tensors_of):
    """gradients(): the values as NumPy copies, from a second call (for jit, the first replay)."""
    def gradients():
        tensors_of()
        return [to_numpy(t) for t in tensors_of()]
    return gradients


def hessian_vector_product(engine):
    """W5 by double backward: the gradient with a graph, then the gradient of <gradient, v>."""
    X, Y, W1, W2 = w.xor(3)
    X, Y, W2, v = (engine.tensor(a) for a in (X, Y, W2, w.hvp_direction()))
    W1 = engine.tensor(W1, requires_grad=True)

    def hvp():
        g, = engine.grad(xor_loss(X, Y, W1, W2), W1, create_graph=True)
        hv, = engine.grad((g * v).sum(), W1)
        return hv,
    return engine.compile(hvp), as_numpy(engine.compile(hvp))


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
