"""The article's walk-through of one training step, computed by the engine.

One sample, N = 1, λ = 0, α = 0.001, three hidden units:
  z1 = X·W1, h1 = σ(z1), z2 = h1·W2, h2 = σ(z2), Loss = Σ(y − h2)²/2.
The engine records the forward pass; backward() fills in dLoss/dW1 and
dLoss/dW2, and retain_grad() keeps dLoss/dh2 and dLoss/dh1 on the way. The
local factors dh2/dz2 and dh1/dz1 come from grad(). Every number printed is
the engine's, and matches the digits the article prints.
"""
import argparse

import numpy as np

import nn
from tinygrad_edu import Tensor, grad

# The article's numbers: one sample and its weights.
X = [[1.76405235, 0.40015721]]
Y = [[1.0, 0.0]]
W1 = [[-0.67746455, 0.37769425, -0.07365253],
      [-0.53663519, 0.60920496, 0.21149622]]
W2 = [[-0.41491732, -0.30992816],
      [-0.31583913, -0.27706468],
      [-0.44701662, 0.15231059]]
LEARNING_RATE = 0.001


def walk_through():
    """Run the step; return {name: ndarray} of every value the article prints, in its order."""
    x, y = Tensor(X, dtype=np.float64, name="X"), Tensor(Y, dtype=np.float64, name="y")
    w1 = Tensor(W1, dtype=np.float64, requires_grad=True, name="W1")
    w2 = Tensor(W2, dtype=np.float64, requires_grad=True, name="W2")
    z1 = x @ w1
    h1 = z1.sigmoid()
    z2 = h1 @ w2
    h2 = z2.sigmoid()
    loss = ((y - h2) ** 2).sum() / 2
    for t, name in [(z1, "z1"), (h1, "h1"), (z2, "z2"), (h2, "h2"), (loss, "loss")]:
        t.name = name  # as the article names them, should anyone print or draw them
    for t in (h1, h2):
        t.retain_grad()
    # σ acts elementwise, so the gradient of Σh against z is exactly the vector of dh/dz.
    dh2_dz2, = grad(h2.sum(), z2, retain_graph=True)
    dh1_dz1, = grad(h1.sum(), z1, retain_graph=True)
    loss.backward()
    steps = {
        "h1": h1, "h2": h2, "Loss": loss,
        "dLoss/dh2": h2.grad, "dh2/dz2": dh2_dz2, "dLoss/dW2": w2.grad,
        "dLoss/dh1": h1.grad, "dh1/dz1": dh1_dz1, "dLoss/dW1": w1.grad,
    }
    steps = {name: np.array(t.data) for name, t in steps.items()}  # copies: the update below changes W
    nn.SGD([w1, w2], lr=LEARNING_RATE).step()
    steps["W2*"], steps["W1*"] = w2.data, w1.data
    return {name: value.squeeze() if value.ndim == 2 and value.shape[0] == 1 else value
            for name, value in steps.items()}


EXPLANATIONS = {
    "h1": "forward: h1 = σ(X·W1)",
    "h2": "forward: h2 = σ(h1·W2)",
    "Loss": "Loss = Σ(y − h2)²/2",
    "dLoss/dh2": "= −(y − h2)",
    "dh2/dz2": "= h2(1 − h2)",
    "dLoss/dW2": "= h1ᵀ · (dLoss/dh2 ⊙ dh2/dz2)",
    "dLoss/dh1": "= (dLoss/dh2 ⊙ dh2/dz2) · W2ᵀ, reusing the factor dLoss/dz2",
    "dh1/dz1": "= h1(1 − h1)",
    "dLoss/dW1": "= Xᵀ · (dLoss/dh1 ⊙ dh1/dz1)",
    "W2*": f"= W2 − {LEARNING_RATE}·dLoss/dW2",
    "W1*": f"= W1 − {LEARNING_RATE}·dLoss/dW1",
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    for name, value in walk_through().items():
        print(f"{name:10s} {EXPLANATIONS[name]}")
        numbers = np.array2string(value, precision=8, floatmode="fixed", suppress_small=True)
        print("          ", numbers.replace("\n", "\n           "))


if __name__ == "__main__":
    main()
