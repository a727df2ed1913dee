"""Train the article's network on XOR and draw what it learned.

The network: 2 inputs → H sigmoid units → 2 sigmoid outputs, no biases,
  Loss = Σ(y − h2)²/(2N) + λ·ΣW²/(2N)   (W over both weight matrices)
trained on the first BATCH of the data set's points (the rest are the test set)
by gradient descent on the engine's gradients. (The article's code left the
1/N out of its gradient, so its steps were N = 50 times longer: --lr 0.15
here moves as far as its lr 0.003.) Writes a figure with accuracy,
the decision boundary and the loss over the steps, and the loss's computation
graph as SVG with W2's path highlighted. Every tensor is named as the article
names it (X, W1, z1, h1, W2, z2, h2, loss), so the drawings read like the article.

Without biases each hidden unit is σ(w·x), and σ(u) + σ(−u) = 1, so the
difference d(x) of the two output scores obeys d(x) + d(−x) = 2·d(0). XOR
gives x and −x the same class, yet when d(0) < 0 they cannot both be called
class 1 (when d(0) > 0, not both class 0): on plenty of data the article's
network tops out near 75% accuracy. --bias lifts that limit.

The article's first run, then a configuration that fits all training points:
  python examples/xor.py --hidden 3 --lr 0.003 --reg 0 --steps 300000
  python examples/xor.py --bias --hidden 8 --lr 2 --steps 3000
Files are named after the settings (xor_h3_lr0.003_reg0_sgd.png), so runs with
different settings don't overwrite each other.
"""
import argparse
import math
import os
import sys
import time

import numpy as np

import nn
from tinygrad_edu import Tensor, no_grad, viz


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=3, help="hidden units H (default 3)")
    parser.add_argument("--lr", type=float, default=0.003, help="learning rate α (default 0.003)")
    parser.add_argument("--reg", type=float, default=0.0, help="L2 strength λ (default 0)")
    parser.add_argument("--steps", type=int, default=20000, help="training steps (default 20000)")
    parser.add_argument("--points", type=int, default=300, help="size of the XOR data set (default 300)")
    parser.add_argument("--batch", type=int, default=50,
                        help="train on the first BATCH points, test on the rest (default 50, as the article)")
    parser.add_argument("--bias", action="store_true",
                        help="give both layers biases (the article's network has none, see below)")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd", help="default sgd, as the article")
    parser.add_argument("--clip", type=float, default=None, metavar="MAX_NORM",
                        help="clip the gradients' joint norm to MAX_NORM before each step")
    parser.add_argument("--lr-half-life", type=float, default=None, metavar="STEPS",
                        help="decay the learning rate exponentially, halving it every STEPS steps")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights (default 0)")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the data set (default 0, as the article)")
    parser.add_argument("--out", default="out", help="folder for the figure and graph (default out/)")
    parser.add_argument("--name", default=None,
                        help="file name stem (default from the settings, e.g. xor_h3_lr0.003_reg0_sgd)")
    parser.add_argument("--log-every", type=int, default=None, help="steps between progress lines (default steps/10)")
    parser.add_argument("--no-graph", action="store_true", help="don't write the computation graph's SVG")
    parser.add_argument("--explain", metavar="DIR", default=None,
                        help="also write the backprop explorer page of the article's worked example into DIR")
    args = parser.parse_args(argv)
    if args.hidden < 1:
        parser.error(f"--hidden must be at least 1: the network needs a hidden unit, got {args.hidden}")
    if not 0 < args.batch < args.points:
        parser.error(f"--batch must be between 1 and --points - 1 (the rest is the test set), got {args.batch}")
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    return args


def named(t, name):
    """t, labelled for drawings and the explorer page."""
    t.name = name
    return t


class ArticleNetwork(nn.Module):
    """The article's network: z1 = X·W1, h1 = σ(z1), z2 = h1·W2, h2 = σ(z2), with biases b1 and b2
    only when asked. Each tensor it makes carries the article's name."""

    def __init__(self, hidden, seed=None, bias=False):
        first_seed, second_seed = np.random.SeedSequence(seed).spawn(2)
        self.layer1 = nn.Linear(2, hidden, bias=bias, seed=first_seed, dtype=np.float64)
        self.layer2 = nn.Linear(hidden, 2, bias=bias, seed=second_seed, dtype=np.float64)
        for number, layer in enumerate((self.layer1, self.layer2), start=1):
            named(layer.weight, f"W{number}")
            if bias:
                named(layer.bias, f"b{number}")

    def forward(self, X):
        z1 = named(self.layer1(X), "z1")
        h1 = named(z1.sigmoid(), "h1")
        z2 = named(self.layer2(h1), "z2")
        return named(z2.sigmoid(), "h2")


def article_loss(model, inputs, targets, reg):
    """Σ(y − h2)²/(2N) + λ·ΣW²/(2N), W over both weight matrices (biases are not penalised)."""
    n = len(inputs)
    h2 = model(Tensor(inputs, name="X"))
    err = named(Tensor(targets, name="y") - h2, "err")
    data_term = err.square().sum() / (2 * n)
    if not reg:
        return named(data_term, "loss")
    penalty = named(reg * nn.l2_penalty([model.layer1.weight, model.layer2.weight]) / (2 * n), "penalty")
    return named(named(data_term, "data term") + penalty, "loss")


@no_grad()
def predict(model, inputs):
    return np.argmax(model(Tensor(inputs, name="X")).numpy(), axis=1)


def accuracy(model, inputs, targets):
    return float(np.mean(predict(model, inputs) == np.argmax(targets, axis=1)))


def make_optimizer(args, params):
    if args.optimizer == "adam":
        return nn.Adam(params, lr=args.lr)
    return nn.SGD(params, lr=args.lr)


def train(model, args, train_set, test_set):
    """Run the steps; return the history (step, loss, train and test accuracy) at about 200 points."""
    optimizer = make_optimizer(args, model.parameters())
    schedule = nn.ExponentialLR(optimizer, gamma=0.5 ** (1 / args.lr_half_life)) if args.lr_half_life else None
    record_every = max(1, args.steps // 200)
    log_every = args.log_every or max(1, args.steps // 10)
    history = {"step": [], "loss": [], "train": [], "test": []}
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        loss = article_loss(model, *train_set, args.reg)
        optimizer.zero_grad()
        loss.backward()
        if not math.isfinite(loss.item()):
            sys.exit(f"step {step}: the loss is {loss.item()}. Gradients grew too large: "
                     f"lower --lr, use --clip or --lr-half-life.")
        if args.clip is not None:
            nn.clip_grad_norm(model.parameters(), args.clip)
        optimizer.step()
        if schedule:
            schedule.step()
        logs = step % log_every == 0 or step == args.steps
        if logs or step % record_every == 0 or step == 1:
            for key, value in zip(history, (step, loss.item(), accuracy(model, *train_set), accuracy(model, *test_set))):
                history[key].append(value)
        if logs:
            rate = step / (time.perf_counter() - started)
            print(f"step {step:>8}/{args.steps}  loss {history['loss'][-1]:.6f}  "
                  f"train acc {history['train'][-1]:6.1%}  test acc {history['test'][-1]:6.1%}  "
                  f"lr {optimizer.lr:.3g}  ({rate:,.0f} steps/s)", flush=True)
    return history


# The two classes of the XOR data, and their colours in the figure (the shaded regions are lighter tints).
CLASSES = [("same signs", "#1f63b4"), ("different signs", "#d1541b")]


def plot(history, model, train_set, test_set, title, path):
    """Three panels as the article's: accuracy, decision boundary with the points, loss."""
    import matplotlib
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.ticker import EngFormatter

    fig, (acc_ax, boundary_ax, loss_ax) = plt.subplots(1, 3, figsize=(12, 3.8), dpi=80)
    acc_ax.plot(history["step"], history["train"], label="train")
    acc_ax.plot(history["step"], history["test"], label="test", alpha=0.8)
    acc_ax.set(title="accuracy", xlabel="step", ylim=(0, 1.02))
    acc_ax.legend(loc="lower right")

    inputs = np.concatenate([train_set[0], test_set[0]])
    low, high = inputs.min(axis=0) - 0.3, inputs.max(axis=0) + 0.3
    gx, gy = np.meshgrid(np.linspace(low[0], high[0], 200), np.linspace(low[1], high[1], 200))
    grid_classes = predict(model, np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    boundary_ax.contourf(gx, gy, grid_classes, levels=[-0.5, 0.5, 1.5], cmap=ListedColormap(["#cfe0f3", "#f6d5c4"]))
    points_styles = ((test_set, dict(s=10, alpha=0.6), False), (train_set, dict(s=22, edgecolors="black"), True))
    for (points, targets), style, in_legend in points_styles:  # one legend entry per class, from the training points
        for label, (meaning, color) in enumerate(CLASSES):
            chosen = np.argmax(targets, axis=1) == label
            boundary_ax.scatter(points[chosen, 0], points[chosen, 1], color=color, linewidths=0.7,
                                label=f"class {label}: {meaning}" if in_legend else None, **style)
    boundary_ax.legend(loc="lower left", fontsize="small", framealpha=0.8)
    boundary_ax.set(title="decision boundary (outlined: training points)", xlabel="x0", ylabel="x1")

    loss_ax.plot(history["step"], history["loss"], color="black")
    loss_ax.set(title="training loss", xlabel="step")
    for ax in (acc_ax, loss_ax):
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 300k, not 300000 crowding its neighbours
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_graph_svg(model, train_set, reg, path):
    """The loss's computation graph after one more forward and backward, values and gradients shown."""
    loss = article_loss(model, *train_set, reg)
    loss.backward()
    viz.save_svg(loss, path, highlight=[model.layer2.weight])  # W2's path, with each chain-rule factor
    print(f"wrote {path}")


def run_name(args):
    """The file name stem: every setting that changes the run, so different runs don't overwrite each other."""
    if args.name:
        return args.name
    name = f"xor_h{args.hidden}_lr{args.lr:g}_reg{args.reg:g}_{args.optimizer}"
    if args.clip is not None:
        name += f"_clip{args.clip:g}"
    if args.lr_half_life:
        name += f"_halflife{args.lr_half_life:g}"
    if args.seed:
        name += f"_seed{args.seed}"
    return name + ("_bias" if args.bias else "")


def main(argv=None):
    """Train, then write the figure and the graph; return (history, the paths written)."""
    args = parse_args(argv)
    inputs, targets = nn.data.xor(args.points, seed=args.data_seed)
    train_set = inputs[:args.batch], targets[:args.batch]
    test_set = inputs[args.batch:], targets[args.batch:]
    name = run_name(args)
    os.makedirs(args.out, exist_ok=True)
    model = ArticleNetwork(args.hidden, seed=args.seed, bias=args.bias)
    biases = "with biases" if args.bias else "no biases"
    print(f"{name}: {args.hidden} hidden units, {biases}, {args.optimizer} lr {args.lr:g}, λ {args.reg:g}, "
          f"{args.steps} steps on {args.batch} points, {len(test_set[0])} test points")
    history = train(model, args, train_set, test_set)
    title = (f"{args.hidden} hidden units, {biases}, {args.optimizer} lr {args.lr:g}, λ {args.reg:g}, "
             f"{args.steps} steps: train {history['train'][-1]:.0%}, test {history['test'][-1]:.0%}")
    written = [os.path.join(args.out, name + ".png")]
    plot(history, model, train_set, test_set, title, written[0])
    print(f"wrote {written[0]}")
    if not args.no_graph:
        written.append(os.path.join(args.out, name + "_graph.svg"))
        write_graph_svg(model, train_set, args.reg, written[-1])
    if args.explain:
        import explain  # beside this file, so on sys.path when run as a script
        written.append(explain.write_page(args.explain))
    return history, written


if __name__ == "__main__":
    main()
