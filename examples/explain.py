"""Write the backprop explorer for the article's worked example: a page that steps through
the forward pass and then the backward pass the engine ran, on the article's own numbers
(X, W1, z1, h1, W2, z2, h2, loss, with W2's path highlighted).

    python examples/explain.py [out/]      # then open out/worked_example.html in a browser
"""
import argparse
import os

from draw_graph import article_network
from tinygrad_edu.viz import save_html


def write_page(folder):
    """Write folder/worked_example.html and return its path."""
    os.makedirs(folder, exist_ok=True)
    net = article_network()
    path = os.path.join(folder, "worked_example.html")
    save_html(net["loss"], path, highlight=[net["W2"]])
    print(f"wrote {path}")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default="out", help="folder to write worked_example.html into (default out/)")
    write_page(parser.parse_args(argv).out)


if __name__ == "__main__":
    main()
