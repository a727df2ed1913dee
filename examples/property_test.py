"""A property test for your own op, written with tinygrad_edu.testing alone.

Run it with `python examples/property_test.py`, or let pytest collect it. Hypothesis
draws tensors of many shapes and values; assert_gradients_match compares Softplus's
backward with central differences on each and prints a table when they differ.
"""
import argparse

import numpy as np
from hypothesis import given

from tinygrad_edu import Function
from tinygrad_edu.testing import assert_gradients_match, tensors


class Softplus(Function):
    """log(1 + e^x): a smooth relu whose derivative is sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.logaddexp(0, x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / (1 + np.exp(-x))


@given(tensors(name="x"))
def test_softplus_gradient(x):
    assert_gradients_match(Softplus.apply, x)


def main(argv=None):
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    test_softplus_gradient()
    print("Softplus: backward matches central differences on every tensor Hypothesis tried")


if __name__ == "__main__":
    main()
