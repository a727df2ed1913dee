"""Draw the article's network with the path from the loss back to W2 highlighted.

Each blue edge carries the local derivative it contributes, so the chain rule
dLoss/dW2 = dLoss/dh2 · dh2/dz2 · dz2/dW2 can be read off the picture. The
values and gradients are the article's worked example (one sample, N = 1).

    python examples/draw_graph.py [docs/article_graph.svg]
"""
import argparse

import numpy as np

from tinygrad_edu import Tensor
from tinygrad_edu.viz import save_svg
from worked_example import W1, W2, X, Y


def article_network():
    """The worked example's forward pass and loss, every tensor named; {name: Tensor}."""
    net = {"X": Tensor(X, dtype=np.float64, name="X"), "y": Tensor(Y, dtype=np.float64, name="y"),
           "W1": Tensor(W1, dtype=np.float64, requires_grad=True, name="W1"),
           "W2": Tensor(W2, dtype=np.float64, requires_grad=True, name="W2")}
    steps = [("z1", lambda n: n["X"] @ n["W1"]), ("h1", lambda n: n["z1"].sigmoid()),
             ("z2", lambda n: n["h1"] @ n["W2"]), ("h2", lambda n: n["z2"].sigmoid()),
             ("err", lambda n: n["y"] - n["h2"]),
             ("loss", lambda n: n["err"].square().sum() / (2 * len(X)))]  # (1/2N)·Σ(y − h2)², λ = 0
    for name, compute in steps:
        net[name] = compute(net)
        net[name].name = name
    return net


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default="docs/article_graph.svg")
    path = parser.parse_args().path
    net = article_network()
    net["loss"].backward()
    save_svg(net["loss"], path, highlight=[net["W2"]])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
