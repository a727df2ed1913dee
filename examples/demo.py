"""What `make demo` runs: the article's own network on the article's data, then the same network with biases.

1. The article's network: 2 inputs → 3 sigmoid units → 2 sigmoid outputs, no biases,
   trained with SGD on the first 50 of the article's 300 XOR points. It writes the
   three-panel figure (accuracy, decision boundary, loss) and the loss's graph with
   W2's path highlighted, each blue edge labelled with its factor of the chain rule.
2. The backprop explorer page of the article's worked example (one sample, the
   article's weights): the forward and the backward pass, step by step.
3. The network with biases b1 and b2, which lets it fit XOR. It gets 8 hidden units:
   with 3 and biases, SGD fits 72-96% of the training points after 3,000 steps,
   depending on the seed; with 8 it fits them all (tests/test_xor.py checks this).

The first run's learning rate is 8, not the article's 0.003: the article's code
leaves the 1/N of the loss out of its gradient (its steps were 50 times longer than
its lr says), and the demo has seconds, not the article's 300,000 steps. (lr 2 for
20,000 steps ends in the same place, four times slower.) `python examples/xor.py --help`
runs any other setting.
"""
import argparse

import explain
import xor

RUNS = [
    ("The article's network: 2-3-2 sigmoid, no biases", ["--hidden", "3", "--lr", "8", "--steps", "5000"]),
    ("The network with biases b1 and b2 (and 8 hidden units), which fits XOR",
     ["--hidden", "8", "--bias", "--lr", "2", "--steps", "3000"]),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="out", help="folder for the files (default out/)")
    parser.add_argument("--steps", type=int, default=None, help="train each network this many steps instead")
    args = parser.parse_args(argv)
    steps = ["--steps", str(args.steps)] if args.steps else []
    (first_title, first_run), (second_title, second_run) = RUNS
    print(f"== {first_title}")
    _, written = xor.main(first_run + steps + ["--out", args.out])
    print("== The backprop explorer of the article's worked example (one sample, the article's weights)")
    written.append(explain.write_page(args.out))
    print(f"== {second_title}")
    written += xor.main(second_run + steps + ["--out", args.out])[1]
    print("Open these in a browser or image viewer: " + ", ".join(written))
    return written


if __name__ == "__main__":
    main()
