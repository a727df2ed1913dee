"""The same networks with gradients derived by hand, in plain NumPy: what the engine replaces.

Two sources, as the project's article and note write them:
- the article's 2-H-2 sigmoid network without biases, loss
  Σ(y − h2)²/(2N) + λ·ΣW²/(2N), differentiated layer by layer with the chain rule;
- the note's layer objects (Dense, Tanh, MSE), each with forward() and a
  backward() that returns the gradient with respect to its input.
The tests compare the engine's gradients with these to 1e-12. The article's code
slipped twice in its gradient (see article_code_gradients); a gradient check
catches both at once.

Run it to see both gradients measured against finite differences, or with
--train STEPS to see what the article's gradient does to a training run:
  python examples/handwritten.py --hidden 50 --reg 1e-4 --train 200000
"""
import argparse

import numpy as np

from nn.data import xor  # plain NumPy: the article's data set


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# --- the article's network ---------------------------------------------------

def article_forward(X, W1, W2):
    """h1 = σ(X·W1), h2 = σ(h1·W2): rows of X are samples."""
    h1 = sigmoid(X @ W1)
    return h1, sigmoid(h1 @ W2)


def article_loss(X, Y, W1, W2, reg=0.0):
    n = len(X)
    _, h2 = article_forward(X, W1, W2)
    return np.sum((Y - h2) ** 2) / (2 * n) + reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2)) / (2 * n)


def _data_term_sums(X, Y, W1, W2):
    """dΣ(y − h2)²/2 with respect to W1 and W2: the chain rule summed over samples, before the 1/N."""
    h1, h2 = article_forward(X, W1, W2)
    dloss_dz2 = -(Y - h2) * h2 * (1 - h2)        # dLoss/dh2 · dh2/dz2
    dloss_dh1 = dloss_dz2 @ W2.T                 # reuses dLoss/dz2, as the article stresses
    dloss_dz1 = dloss_dh1 * h1 * (1 - h1)        # · dh1/dz1
    return X.T @ dloss_dz1, h1.T @ dloss_dz2     # · dz1/dW1 = X, dz2/dW2 = h1


def article_gradients(X, Y, W1, W2, reg=0.0):
    """(dLoss/dW1, dLoss/dW2) of article_loss: the data term over N, and (λ/N)·W from λ·ΣW²/(2N)."""
    n = len(X)
    sum_w1, sum_w2 = _data_term_sums(X, Y, W1, W2)
    return sum_w1 / n + reg / n * W1, sum_w2 / n + reg / n * W2


def article_code_gradients(X, Y, W1, W2, reg=0.0):
    """The gradient the article's code computes, slips and all: the data term lacks
    the 1/N of the loss, and λ·ΣW² (one number) is added to every entry instead of (λ/N)·W."""
    sum_w1, sum_w2 = _data_term_sums(X, Y, W1, W2)
    return sum_w1 + reg * np.sum(W1 ** 2), sum_w2 + reg * np.sum(W2 ** 2)


def article_code_tanh(z):
    """The article's tanh helper, (1 − e^−z)/(1 + e^−z): that is tanh(z/2), not tanh(z)."""
    return (1 - np.exp(-z)) / (1 + np.exp(-z))


# --- the note's layers (column vectors: each column of X is a sample) -------

class Dense:
    """Y = W·X + B; backward returns dE/dX = Wᵀ·dE/dY and steps W and B by learning_rate."""

    def __init__(self, weights, bias):
        self.weights, self.bias = weights.copy(), bias.copy()

    def forward(self, X):
        self.input = X
        return self.weights @ X + self.bias

    def backward(self, output_gradient, learning_rate):
        self.weights_gradient = output_gradient @ self.input.T           # dE/dW = dE/dY · Xᵀ
        self.bias_gradient = output_gradient.sum(axis=1, keepdims=True)  # dE/dB = dE/dY, summed over samples
        input_gradient = self.weights.T @ output_gradient                # computed before W changes
        self.weights -= learning_rate * self.weights_gradient
        self.bias -= learning_rate * self.bias_gradient
        return input_gradient


class Tanh:
    """Y = tanh(X); dE/dX = dE/dY ⊙ (1 − tanh²(X))."""

    def forward(self, X):
        self.input = X
        return np.tanh(X)

    def backward(self, output_gradient, learning_rate):
        return output_gradient * (1 - np.tanh(self.input) ** 2)


def mse(y_true, y_pred):
    return np.mean((y_true - y_pred) ** 2)


def mse_prime(y_true, y_pred):
    """dE/dy = 2(y − y*)/n, n the number of elements."""
    return 2 * (y_pred - y_true) / y_true.size


def note_backward(layers, X, Y, learning_rate=0.0):
    """One forward and backward pass through the note's layers; returns (loss, dE/dX)."""
    out = X
    for layer in layers:
        out = layer.forward(out)
    gradient = mse_prime(Y, out)
    for layer in reversed(layers):
        gradient = layer.backward(gradient, learning_rate)
    return mse(Y, out), gradient


# --- checking by finite differences -----------------------------------------

def directional_derivative(f, weights, directions, eps=1e-6):
    """(f(W + εD) − f(W − εD)) / 2ε: by Taylor, equal to Σ ⟨dLoss/dW, D⟩ over the weight
    matrices up to O(ε²). One number that any correct gradient must reproduce."""
    def shifted(sign):
        return f(*[w + sign * eps * d for w, d in zip(weights, directions)])
    return (shifted(+1) - shifted(-1)) / (2 * eps)


# --- what the slips do to training ------------------------------------------

def descend(gradients, X, Y, W1, W2, lr, reg, steps, report_every):
    """Gradient descent with the given gradient function; yields (step, loss, ΣW²) every report_every steps."""
    W1, W2 = W1.copy(), W2.copy()
    for step in range(1, steps + 1):
        g1, g2 = gradients(X, Y, W1, W2, reg)
        W1 -= lr * g1
        W2 -= lr * g2
        if step % report_every == 0:
            yield step, article_loss(X, Y, W1, W2, reg), np.sum(W1 ** 2) + np.sum(W2 ** 2)


def compare_training(X, Y, weights, lr, reg, steps):
    """Train from the same start with the correct and with the article's gradient, side by side."""
    print(f"Training on the article's first {len(X)} XOR points, lr {lr:g}, λ {reg:g}:")
    print(f"{'step':>9}   {'correct: loss':>13} {'ΣW²':>9}   {'article code: loss':>18} {'ΣW²':>9}")
    report_every = max(1, steps // 10)
    runs = [descend(gradients, X, Y, *weights, lr, reg, steps, report_every)
            for gradients in (article_gradients, article_code_gradients)]
    with np.errstate(all="ignore"):  # the slipped run may overflow: its NaN is the point
        for (step, loss, size), (_, slipped_loss, slipped_size) in zip(*runs):
            print(f"{step:>9}   {loss:13.6f} {size:9.4g}   {slipped_loss:18.6f} {slipped_size:9.4g}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=3, help="hidden units (default 3)")
    parser.add_argument("--batch", type=int, default=50, help="samples N (default 50)")
    parser.add_argument("--reg", type=float, default=1e-4, help="L2 strength λ (default 1e-4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=None, metavar="STEPS",
                        help="instead, train on the article's XOR data with both gradients for STEPS steps")
    parser.add_argument("--lr", type=float, default=0.003, help="learning rate for --train (default 0.003)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    X, Y = rng.standard_normal((args.batch, 2)), np.eye(2)[rng.integers(0, 2, args.batch)]
    weights = [rng.uniform(-1, 1, (2, args.hidden)) / np.sqrt(2),
               rng.uniform(-1, 1, (args.hidden, 2)) / np.sqrt(args.hidden)]
    if args.train:
        inputs, targets = xor(seed=0)
        compare_training(inputs[:args.batch], targets[:args.batch], weights, args.lr, args.reg, args.train)
        return
    directions = [rng.standard_normal(w.shape) for w in weights]

    def loss(W1, W2):
        return article_loss(X, Y, W1, W2, args.reg)

    def along_directions(gradients):
        return sum(np.sum(g * d) for g, d in zip(gradients, directions))

    print(f"Slope of the loss along a random direction (N={args.batch}, H={args.hidden}, λ={args.reg:g}):")
    print(f"  finite differences     {directional_derivative(loss, weights, directions):+.10f}")
    print(f"  gradient by hand       {along_directions(article_gradients(X, Y, *weights, args.reg)):+.10f}")
    print(f"  the article's code     {along_directions(article_code_gradients(X, Y, *weights, args.reg)):+.10f}")


if __name__ == "__main__":
    main()
