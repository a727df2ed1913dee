"""Data sets for the examples."""
import numpy as np


def xor(n=300, seed=0):
    """The article's XOR data: n points from a standard normal, class 1 where the
    two coordinates have different signs, else class 0.

    Returns (inputs, targets) as float64 arrays of shape (n, 2) and (n, 2), the
    targets one-hot (column 1 is class 1).
    """
    inputs = np.random.RandomState(seed).randn(n, 2)
    labels = (inputs[:, 0] > 0) ^ (inputs[:, 1] > 0)
    return inputs, np.eye(2)[labels.astype(int)]
