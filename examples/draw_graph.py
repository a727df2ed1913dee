"""Draw the article's network with the path from the loss back to W2 highlighted.

Each blue edge carries the local derivative it contributes, so the chain rule
dLoss/dW2 = dLoss/dh2 · dh2/dz2 · dz2/dW2 can be read off the picture. The
values and gradients are the article's worked example (one sample, N = 1).

    python examples/draw_graph.py [docs/article_graph.svg]
"""
import argparse
import pathlib

import numpy as np

import worked_example
from tinygrad_edu import backward_order
from tinygrad_edu.viz import save_svg
from xor import ArticleNetwork, article_loss

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent


def article_network():
    """The worked example's forward pass and loss (the article's weights, one sample, λ = 0) as
    {name: Tensor} for the tensors backward visits: W1, z1, h1, W2, z2, h2, err and loss."""
    model = ArticleNetwork(hidden=3)
    model.load_state_dict({"layer1.weight": worked_example.W1, "layer2.weight": worked_example.W2})
    loss = article_loss(model, np.array(worked_example.X), np.array(worked_example.Y), reg=0.0)
    return {t.name: t for t in backward_order([loss]) if t.name is not None}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", type=pathlib.Path, default=REPOSITORY / "docs" / "article_graph.svg",
                        help="where to write the SVG (default: the repository's docs/article_graph.svg)")
    path = parser.parse_args(argv).path
    if not path.parent.is_dir():
        parser.error(f"cannot write {path}: the folder {path.parent} does not exist")
    net = article_network()
    net["loss"].backward()
    save_svg(net["loss"], path, highlight=[net["W2"]])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
