"""Write the backprop explorer for the article's worked example: a page that steps through
the forward pass and then the backward pass the engine ran, on the article's own numbers.

    python examples/explain.py [out/]      # then open out/explorer.html in a browser
"""
import argparse
import os

from draw_graph import article_network
from tinygrad_edu.viz import save_html


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default="out", help="folder to write explorer.html into")
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    net = article_network()
    path = os.path.join(out, "explorer.html")
    save_html(net["loss"], path, highlight=[net["W2"]])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
