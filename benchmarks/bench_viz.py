"""How long drawing and rendering take: the article's network and a 10,000-node graph.

Prints times; not a test.    python benchmarks/bench_viz.py [--full-render]

--full-render also lays out all 10,000 nodes, which takes Graphviz minutes; by
default the large graph is rendered as users see it, cut to draw()'s max_nodes.
"""
import argparse
import pathlib
import sys
import time

import numpy as np

from tinygrad_edu import Tensor
from tinygrad_edu.viz import draw, find_renderer, svg_of

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "examples"))
from draw_graph import article_network  # noqa: E402


def large_graph(nodes=10_000):
    """A branching chain: each step makes tanh, a product and a sum (six nodes)."""
    y = Tensor(np.linspace(-1, 1, 8), requires_grad=True, name="x")
    for _ in range(nodes // 6):
        y = y.tanh() + y * 0.5
    return y.sum()


def timed(label, fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    print(f"{label:48s} {best * 1000:9.1f} ms")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full-render", action="store_true", help="also render all 10,000 nodes (slow)")
    full = parser.parse_args().full_render
    print(f"renderer: {find_renderer()}")
    net = article_network()
    net["loss"].backward()
    article = timed("article graph: draw (highlight W2)", lambda: draw(net["loss"], highlight=net["W2"]))
    timed("article graph: render to SVG", lambda: svg_of(article))
    big = large_graph()
    graph = timed("10,000-node graph: draw, all nodes", lambda: draw(big, max_nodes=None), repeat=1)
    print(f"{'':48s} ({graph.source.count(' [label=')} nodes in the DOT source)")
    cut = timed("10,000-node graph: draw, default max_nodes=400", lambda: draw(big))
    timed("10,000-node graph: render, default max_nodes=400", lambda: svg_of(cut), repeat=1)
    if full:
        timed("10,000-node graph: render, all nodes", lambda: svg_of(graph), repeat=1)


if __name__ == "__main__":
    main()
