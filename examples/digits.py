"""Real data: an nn.MLP learns scikit-learn's bundled 8×8 handwritten digits (no download).

1,797 images of 64 pixels, 10 classes; a quarter is held out for testing.
Mini-batch Adam on the cross-entropy of the logits reaches about 97% test
accuracy in a few seconds.
"""
import argparse
import time

import numpy as np

import nn
from tinygrad_edu import Tensor, no_grad


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=64, help="hidden units (default 64)")
    parser.add_argument("--activation", choices=["relu", "tanh", "sigmoid"], default="relu")
    parser.add_argument("--epochs", type=int, default=15, help="passes over the training set (default 15)")
    parser.add_argument("--batch", type=int, default=32, help="images per step (default 32)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's learning rate (default 3e-3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, the weights and the shuffling")
    parser.add_argument("--save", metavar="PATH", default=None, help="save the trained parameters to PATH (.npz)")
    return parser.parse_args(argv)


def load(seed):
    """(train_images, test_images, train_labels, test_labels), pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)
    return train_test_split(images, digits.target, test_size=0.25, random_state=seed, stratify=digits.target)


def train_epoch(model, optimizer, images, labels, batch, rng):
    """One pass over the images in a random order, an optimiser step per batch; the mean loss."""
    order = rng.permutation(len(images))
    losses = []
    for start in range(0, len(order), batch):
        chosen = order[start:start + batch]
        loss = nn.cross_entropy(model(Tensor(images[chosen], name="images")), labels[chosen])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return np.mean(losses)


@no_grad()
def accuracy(model, images, labels):
    return float(np.mean(np.argmax(model(Tensor(images, name="images")).numpy(), axis=1) == labels))


def main(argv=None):
    args = parse_args(argv)
    train_images, test_images, train_labels, test_labels = load(args.seed)
    model = nn.MLP([64, args.hidden, 10], activation=args.activation, seed=args.seed)
    optimizer = nn.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    print(f"{len(train_images)} training and {len(test_images)} test images; the model:\n{model!r}")
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss = train_epoch(model, optimizer, train_images, train_labels, args.batch, rng)
        print(f"epoch {epoch:>3}/{args.epochs}  loss {loss:.4f}  "
              f"train acc {accuracy(model, train_images, train_labels):6.1%}  "
              f"test acc {accuracy(model, test_images, test_labels):6.1%}  "
              f"({time.perf_counter() - started:.1f}s)", flush=True)
    if args.save:
        nn.save(model, args.save)
        print(f"saved the parameters to {args.save}")
    return accuracy(model, test_images, test_labels)


if __name__ == "__main__":
    main()
