"""A small convolutional network learns scikit-learn's bundled 8×8 digits (no download).

The same images and the same split as digits.py (a quarter held out), but the
network sees each digit as an image rather than a row of 64 numbers:

    Conv2d(1→32, 3×3, padding 1) → ReLU → MaxPool2d(2)     32 maps of 4×4
    Conv2d(32→64, 3×3, padding 1) → ReLU → MaxPool2d(2)    64 maps of 2×2
    Flatten → Dropout → Linear(256→128) → ReLU → Dropout → Linear(128→10)

A 3×3 kernel looks at a small neighbourhood wherever it is in the image, so an
edge or a loop is found anywhere with the same 9 weights. Mini-batch Adam with
a decaying learning rate reaches 98.4%, 99.6% and 98.9% test accuracy with
seeds 0, 1 and 2, in under a minute; the MLP of digits.py reaches 96.7%.
The figure shows the first layer's 32 kernels and the test digits it still gets wrong.
"""
import os

# The matrices here are small: BLAS threads cost more in start-up than they save.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import digits  # noqa: E402  (the same images and split)
import nn  # noqa: E402
from tinygrad_edu import Tensor, no_grad  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=60, help="passes over the training set (default 60)")
    parser.add_argument("--batch", type=int, default=32, help="images per step (default 32)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's first learning rate (default 3e-3)")
    parser.add_argument("--lr-decay", type=float, default=0.95,
                        help="the learning rate is multiplied by this after each epoch (default 0.95)")
    parser.add_argument("--channels", type=int, nargs=2, default=[32, 64], metavar=("C1", "C2"),
                        help="feature maps of the two convolutions (default 32 64)")
    parser.add_argument("--hidden", type=int, default=128, help="units of the hidden Linear layer (default 128)")
    parser.add_argument("--dropout", type=float, default=0.5, help="dropout probability (default 0.5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights, dropout and shuffling")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the train/test split (default 0, "
                                                                   "digits.py's)")
    parser.add_argument("--out", default="out", help="folder for the figure (default out/)")
    parser.add_argument("--no-figure", action="store_true", help="skip the figure")
    return parser.parse_args(argv)


def build(channels, hidden, dropout, seed):
    """The CNN above; one seed fans out to a reproducible stream per layer."""
    c1, c2 = channels
    seeds = np.random.SeedSequence(seed).spawn(6)
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1, seed=seeds[0]), nn.ReLU(), nn.MaxPool2d(2),   # 8×8 → 4×4
        nn.Conv2d(c1, c2, 3, padding=1, seed=seeds[1]), nn.ReLU(), nn.MaxPool2d(2),  # 4×4 → 2×2
        nn.Flatten(), nn.Dropout(dropout, seed=seeds[2]),
        nn.Linear(c2 * 2 * 2, hidden, seed=seeds[3]), nn.ReLU(), nn.Dropout(dropout, seed=seeds[4]),
        nn.Linear(hidden, 10, seed=seeds[5]))


@no_grad()
def predict(model, images):
    model.eval()  # dropout off
    labels = np.argmax(model(Tensor(images)).numpy(), axis=1)
    model.train()
    return labels


def main(argv=None):
    args = parse_args(argv)
    train_images, test_images, train_labels, test_labels = digits.load(args.split_seed)
    train_images, test_images = train_images.reshape(-1, 1, 8, 8), test_images.reshape(-1, 1, 8, 8)  # (N, C, H, W)
    model = build(args.channels, args.hidden, args.dropout, args.seed)
    optimizer = nn.Adam(model.parameters(), lr=args.lr)
    schedule = nn.ExponentialLR(optimizer, gamma=args.lr_decay)
    rng = np.random.default_rng(args.seed)
    print(f"{len(train_images)} training and {len(test_images)} test images; "
          f"{sum(p.size for p in model.parameters())} parameters", flush=True)
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss = digits.train_epoch(model, optimizer, train_images, train_labels, args.batch, rng)
        schedule.step()
        if epoch % 5 == 0 or epoch in (1, args.epochs):
            train_accuracy = np.mean(predict(model, train_images) == train_labels)
            test_accuracy = np.mean(predict(model, test_images) == test_labels)
            print(f"epoch {epoch:>3}/{args.epochs}  loss {loss:.4f}  train acc {train_accuracy:6.1%}  "
                  f"test acc {test_accuracy:6.1%}  ({time.perf_counter() - started:.1f}s)", flush=True)
    predicted = predict(model, test_images)
    if not args.no_figure:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "cnn_digits.png")
        plot(model[0].weight.numpy(), test_images, test_labels, predicted, path)
        print(f"figure: {path}")
    accuracy = float(np.mean(predicted == test_labels))
    print(f"test accuracy {accuracy:.1%} ({np.sum(predicted != test_labels)} of {len(test_labels)} wrong)")
    return accuracy


def plot(kernels, images, labels, predicted, path, columns=8):
    """The first layer's kernels (red +, blue −) above the misclassified test digits."""
    import matplotlib
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    wrong = np.flatnonzero(predicted != labels)[:2 * columns]
    kernel_rows, wrong_rows = -(-len(kernels) // columns), max(1, -(-len(wrong) // columns))  # rounded up
    rows = kernel_rows + wrong_rows
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.5 * rows), dpi=80, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    limit = np.abs(kernels).max()
    for ax, kernel in zip(axes[:kernel_rows].flat, kernels):
        ax.imshow(kernel[0], cmap="RdBu_r", vmin=-limit, vmax=limit)
    for ax, i in zip(axes[kernel_rows:].flat, wrong):
        ax.imshow(images[i, 0], cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{labels[i]} read as {predicted[i]}", fontsize=9)
    axes[0, 0].set_title("conv1 kernels", fontsize=9, loc="left")
    if not len(wrong):
        axes[kernel_rows, 0].set_title("no test digit is misclassified", fontsize=9, loc="left")
    fig.suptitle(f"{len(kernels)} learned 3×3 kernels; {np.sum(predicted != labels)} of {len(labels)} "
                 f"test digits misclassified", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
