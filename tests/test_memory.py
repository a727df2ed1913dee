"""Training leaks nothing: each step's graph and saved arrays are freed when the step ends (issue 6)."""
import gc
import tracemalloc
import weakref

import numpy as np

from benchmarks import engines, workloads
from tinygrad_edu import Tensor

STEPS = 10_000
TRACED_STEPS = 2_000  # tracemalloc slows each step, so it watches the last ones only
# Far below what one leaked object per step (some 50 bytes at least) would add up to.
ALLOWED_GROWTH = 32 * 1024


def xor_training():
    """One SGD step of the article's net (2-3-2 sigmoid, H=3), as the W1 benchmark does it."""
    X, Y, W1, W2 = workloads.xor(3)
    return engines.training(engines.tinygrad_edu(), engines.xor_loss, [X, Y], [W1, W2], workloads.XOR_LR)[0]


def test_memory_stays_flat_over_10000_training_steps():
    step = xor_training()
    for _ in range(STEPS // 10):  # warm-up: NumPy's and Python's caches fill
        step()
    objects = len(gc.get_objects())
    for _ in range(STEPS - STEPS // 10 - TRACED_STEPS):
        step()
    tracemalloc.start()
    try:
        step()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(TRACED_STEPS - 1):
            step()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert growth < ALLOWED_GROWTH, f"memory grew by {growth} bytes over the last {TRACED_STEPS} steps"
    assert len(gc.get_objects()) - objects < 100, "objects pile up from step to step"


def graph_behind(t):
    """Every non-leaf tensor and op behind t, and the arrays the ops saved that no leaf owns."""
    tensors, ops, stack = [], [], [t]
    while stack:
        t = stack.pop()
        if t.op is not None:
            tensors.append(t)
            ops.append(t.op)
            stack.extend(t.op.inputs)
    leaf_arrays = {id(x.data) for op in ops for x in op.inputs if x.op is None}
    saved = [a for op in ops for a in op.saved_tensors if isinstance(a, np.ndarray) and id(a) not in leaf_arrays]
    return tensors + ops + saved


def test_graph_and_saved_arrays_are_freed_when_the_step_ends():
    X, Y, W1, W2 = workloads.xor(3)
    X, Y = Tensor(X), Tensor(Y)
    W1, W2 = Tensor(W1, requires_grad=True), Tensor(W2, requires_grad=True)
    gc.disable()  # freed by reference counting, as soon as the step is over: no cycles for the collector
    try:
        loss = engines.xor_loss(X, Y, W1, W2)
        graph = [weakref.ref(x) for x in graph_behind(loss)]
        assert len(graph) > 20
        loss.backward()
        del loss
        alive = [ref() for ref in graph if ref() is not None]
        assert not alive, f"{len(alive)} objects of the graph outlived the step, e.g. {alive[0]!r}"
    finally:
        gc.enable()


def test_each_recorded_op_adds_few_objects_for_the_cyclic_collector():
    # Each object an op leaves behind brings the next pass of Python's cyclic collector
    # closer, and a full pass walks the whole live graph, so a long forward slows down
    # as the count per op grows.
    x = Tensor(np.ones(3), requires_grad=True)
    gc.collect()
    gc.disable()
    try:
        before = gc.get_count()[0]
        y = x
        for _ in range(100):
            y = y.tanh()  # a Tensor, its op and the op's attributes, inputs, needs and saved tuples
        added = gc.get_count()[0] - before
    finally:
        gc.enable()
    assert added <= 6 * 100 + 10
