"""What each workload is (issue 6): its label, its target, and its inputs, the same for every engine."""
from collections import namedtuple

import numpy as np

Workload = namedtuple("Workload", "label target jit_target")

# Targets as ratios to the NumPy floor (issue 11): eager, and the same step through tinygrad_edu.jit.
WORKLOADS = {
    "W1_H3": Workload("W1 XOR step, H=3", 3.0, 1.2),
    "W1_H50": Workload("W1 XOR step, H=50", 2.5, 1.2),
    "W2": Workload("W2 MLP 784-256-256-10 step, f32", 1.10, 1.00),
    "W3": Workload("W3 1000-op chain, 16 elements", 2.0, 1.00),
    "W4": Workload("W4 100,000-op chain, 1 element", 2.5, 1.00),
    "W5": Workload("W5 Hessian-vector product, H=3", 6.0, 1.6),
}
W4_RSS_TARGET_MIB = 200

XOR_HIDDEN = {"W1_H3": 3, "W1_H50": 50}
XOR_LR = 0.003
L2 = 1e-4
MLP_LR = 0.01
CHAIN_OPS = {"W3": 1000, "W4": 100_000}
CHAIN_SIZE = {"W3": 16, "W4": 1}
# Each cycle of the chain is tanh, *0.5, +1.0, sigmoid: four ops.
OPS_PER_CYCLE = 4


def xor(hidden):
    """X (50, 2), one-hot targets of the XOR of the signs, and the weights of the article's net."""
    X = np.random.RandomState(0).randn(50, 2)
    labels = (X[:, 0] > 0) ^ (X[:, 1] > 0)
    Y = np.eye(2)[labels.astype(int)]
    weights = np.random.RandomState(1)
    return X, Y, weights.randn(2, hidden), weights.randn(hidden, 2)


def hvp_direction():
    """The fixed vector v of W5, shaped like W1 of the H=3 net."""
    return np.random.RandomState(2).randn(2, 3)


def mlp(sizes=(784, 256, 256, 10), batch=128):
    """Float32 inputs, one-hot targets and [W1, b1, W2, b2, W3, b3]: W ~ randn/sqrt(fan_in), b ~ 0.01 randn."""
    rng = np.random.RandomState(3)
    X = rng.randn(batch, sizes[0]).astype(np.float32)
    Y = np.eye(sizes[-1], dtype=np.float32)[rng.randint(0, sizes[-1], batch)]
    params = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        params.append((rng.randn(fan_in, fan_out) / np.sqrt(fan_in)).astype(np.float32))
        params.append((0.01 * rng.randn(fan_out)).astype(np.float32))
    return X, Y, params


def chain_start(name):
    """The float64 vector the chain of workload W3 or W4 starts from."""
    return np.random.RandomState(4).randn(CHAIN_SIZE[name])
