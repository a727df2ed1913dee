"""The README's first example: a few ops, backward(), and the gradients.

    python examples/quickstart.py
"""
import argparse

from tinygrad_edu import Tensor


def main(argv=None):
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="x")
    w = Tensor([[0.5], [-0.5]], requires_grad=True, name="w")
    y = (x @ w).sigmoid()           # forward: each op records where it came from
    y.name = "y"
    loss = ((y - 1) ** 2).mean()
    loss.name = "loss"
    loss.backward()                 # reverse accumulation through the recorded graph
    print("loss    ", loss.item())
    print("dloss/dw", w.grad.numpy().ravel())
    print("dloss/dx", x.grad.numpy())


if __name__ == "__main__":
    main()
