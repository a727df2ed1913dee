"""A tiny transformer learns to sort: 8 digits in, the same 8 digits in order out.

Each example is one sequence of 17 tokens, the digits, a separator and the sorted digits:

    3 1 4 1 5 9 2 6 = 1 1 2 3 4 5 6 9

The model reads it left to right and, at every position from the separator on,
predicts the next token (so it is trained on the first 16 tokens to predict
tokens 9 to 16). It is a decoder as in GPT, only small:

    token embedding + position embedding
    2 × [LayerNorm → causal self-attention → + ; LayerNorm → MLP → +]
    LayerNorm → Linear to the 10 digits

Causal means position i may look at positions 0..i only: the mask is built by
comparing position numbers (key ≤ query) and applied with `where`. The training
sequences are drawn fresh every step; the test sequences are drawn with
another seed, and a test sequence counts as right only if all 8 digits the
model writes, one after another from its own outputs, are right. After 1,000
steps it sorts 99.6%, 99.8% and 99.9% of 1,000 test sequences with seeds 0, 1
and 2, in under a minute or two. The figure shows where each head looks while
the sorted digits are written: in block 2, at the input digit it writes next.
"""
import os

# The matrices here are small: BLAS threads cost more in start-up than they save.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import nn  # noqa: E402
from tinygrad_edu import Tensor, no_grad, where  # noqa: E402

LENGTH = 8            # digits to sort
SEPARATOR = 10        # the token between the digits and their sorted copy
VOCABULARY = 11       # the digits 0-9 and the separator


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000, help="training steps (default 1000)")
    parser.add_argument("--batch", type=int, default=64, help="sequences per step (default 64)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's first learning rate (default 3e-3)")
    parser.add_argument("--dim", type=int, default=64, help="width of the token vectors (default 64)")
    parser.add_argument("--heads", type=int, default=4, help="attention heads per layer (default 4)")
    parser.add_argument("--layers", type=int, default=2, help="transformer blocks (default 2)")
    parser.add_argument("--test", type=int, default=1000, help="held-out sequences (default 1000)")
    parser.add_argument("--log-every", type=int, default=100, help="steps between progress lines (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the training sequences")
    parser.add_argument("--out", default="out", help="folder for the figure (default out/)")
    parser.add_argument("--no-figure", action="store_true", help="skip the figure")
    return parser.parse_args(argv)


def child_seeds(seed, count):
    """count seeds for the layers inside a module, drawn from its own seed (None: unseeded)."""
    return np.random.default_rng(seed).integers(2 ** 32, size=count)


def sequences(count, rng):
    """count rows of: 8 random digits, the separator, the digits sorted."""
    digits = rng.integers(0, 10, (count, LENGTH))
    return np.concatenate([digits, np.full((count, 1), SEPARATOR), np.sort(digits, axis=1)], axis=1)


class CausalSelfAttention(nn.Module):
    """Every position mixes the values of the positions up to it, weighted by how well
    its query matches their keys; `heads` such mixtures side by side."""

    def __init__(self, dim, heads, seed=None):
        if dim % heads:
            raise ValueError(f"CausalSelfAttention: dim {dim} is not a multiple of heads {heads}")
        self.heads = heads
        seeds = child_seeds(seed, 2)
        self.qkv = nn.Linear(dim, 3 * dim, seed=seeds[0])  # queries, keys and values in one product
        self.out = nn.Linear(dim, dim, seed=seeds[1])
        self.weights = None  # the last attention weights, kept for the figure

    def forward(self, x, length):
        """x holds one row per token, (batch·length, dim); only here are the rows seen as sequences."""
        rows, dim = x.shape
        batch, size = rows // length, dim // self.heads

        def by_head(t):  # (batch·length, dim) -> (batch, heads, length, size)
            return t.reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)

        q, k, v = (by_head(t) for t in self.qkv(x).split(dim, axis=-1))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size)  # (batch, heads, query, key)
        position = Tensor.arange(length)
        sees = position.reshape(1, length) <= position.reshape(length, 1)  # key ≤ query: no peeking ahead
        # A large negative score, not -inf: softmax gives it weight 0 all the same, and nothing becomes inf.
        weights = where(sees, scores, -1e9).softmax(axis=-1)
        self.weights = weights.detach()
        mixed = (weights @ v).transpose(0, 2, 1, 3).reshape(rows, dim)
        return self.out(mixed)


class Block(nn.Module):
    """Attention, then a two-layer MLP on each position, each added to its input (residuals)."""

    def __init__(self, dim, heads, seed=None):
        seeds = child_seeds(seed, 3)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = CausalSelfAttention(dim, heads, seed=seeds[0])
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim, seed=seeds[1]), nn.ReLU(),
                                 nn.Linear(4 * dim, dim, seed=seeds[2]))

    def forward(self, x, length):
        x = x + self.attention(self.norm1(x), length)
        return x + self.mlp(self.norm2(x))


class Sorter(nn.Module):
    def __init__(self, dim, heads, layers, seed=None):
        seeds = child_seeds(seed, layers + 3)
        self.tokens = nn.Embedding(VOCABULARY, dim, seed=seeds[0])
        self.positions = nn.Embedding(2 * LENGTH, dim, seed=seeds[1])
        self.blocks = nn.Sequential(*[Block(dim, heads, seed=s) for s in seeds[3:]])  # a list of blocks, named 0, 1
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10, seed=seeds[2])  # only digits are ever predicted

    def forward(self, tokens):
        """Logits (batch, length, 10) for the token after each position of tokens (batch, length)."""
        batch, length = tokens.shape
        x = self.tokens(tokens) + self.positions(Tensor.arange(length))
        # One row per token: every layer but attention treats the tokens alike, and
        # 2-d matrix products are much faster in NumPy than batches of small ones.
        x = x.reshape(batch * length, -1)
        for block in self.blocks:
            x = block(x, length)
        return self.head(self.norm(x)).reshape(batch, length, -1)


def loss_on(model, batch):
    """Cross-entropy of the predictions of the sorted digits (positions 8 to 15 predict tokens 9 to 16)."""
    logits = model(batch[:, :-1])
    return nn.cross_entropy(logits[:, LENGTH:], batch[:, LENGTH + 1:])


@no_grad()
def sort_with(model, digits):
    """The model's sorted copies of digits (count, 8), written one digit at a time from its own outputs."""
    tokens = np.concatenate([digits, np.full((len(digits), 1), SEPARATOR)], axis=1)
    for _ in range(LENGTH):
        following = np.argmax(model(tokens).numpy()[:, -1], axis=-1)
        tokens = np.concatenate([tokens, following[:, None]], axis=1)
    return tokens[:, LENGTH + 1:]


def exactly_right(model, test):
    return float(np.mean(np.all(sort_with(model, test[:, :LENGTH]) == test[:, LENGTH + 1:], axis=1)))


def main(argv=None):
    args = parse_args(argv)
    model = Sorter(args.dim, args.heads, args.layers, seed=args.seed)
    optimizer = nn.Adam(model.parameters(), lr=args.lr)
    schedule = nn.ExponentialLR(optimizer, gamma=0.01 ** (1 / args.steps))  # down to lr/100 at the end
    rng = np.random.default_rng(args.seed)
    test = sequences(args.test, np.random.default_rng([args.seed, 1]))  # another stream than training's
    print(f"{sum(p.size for p in model.parameters())} parameters; e.g. {' '.join(map(str, test[0]))}", flush=True)
    started, losses = time.perf_counter(), []
    for step in range(1, args.steps + 1):
        loss = loss_on(model, sequences(args.batch, rng))
        optimizer.zero_grad()
        loss.backward()
        nn.clip_grad_norm(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step % args.log_every == 0 or step == args.steps:
            print(f"step {step:>5}/{args.steps}  loss {np.mean(losses[-args.log_every:]):.4f}  "
                  f"test sequences right {exactly_right(model, test[:200]):6.1%}  "
                  f"({time.perf_counter() - started:.1f}s)", flush=True)
    if not args.no_figure:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "tiny_transformer_attention.png")
        plot_attention(model, test[0], path)
        print(f"figure: {path}")
    accuracy = exactly_right(model, test)
    print(f"held-out sequences sorted exactly right: {accuracy:.1%} of {len(test)}")
    return accuracy


def plot_attention(model, sequence, path):
    """One map per block and head: how much each output position looks at each position before it."""
    import matplotlib
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    with no_grad():
        model(sequence[None, :-1])
    labels = ["=" if t == SEPARATOR else str(t) for t in sequence[:-1]]
    blocks = list(model.blocks)
    heads = blocks[0].attention.heads
    fig, axes = plt.subplots(len(blocks), heads, figsize=(3.2 * heads, 2.6 * len(blocks)), dpi=80, squeeze=False)
    for row, block in zip(axes, blocks):
        for head, ax in enumerate(row):
            weights = block.attention.weights.numpy()[0, head, LENGTH:]  # the rows that write the output
            ax.imshow(weights, cmap="Blues", vmin=0, vmax=1)
            ax.set_xticks(range(len(labels)), labels, fontsize=7)
            ax.set_yticks(range(LENGTH), [f"{labels[LENGTH + r]}→{sequence[LENGTH + r + 1]}" for r in range(LENGTH)],
                          fontsize=7)
            ax.set_title(f"block {blocks.index(block) + 1}, head {head + 1}", fontsize=9)
    fig.suptitle("Attention while writing the sorted digits (rows: input → digit written; columns: position "
                 "looked at)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
