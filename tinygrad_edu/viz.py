"""Drawings of the graph behind a tensor: a Graphviz Digraph, an SVG file, and a web page
that steps through the forward and backward pass.

Node IDs are numbered in walk order ("t3" for a tensor, "op3" for the op that
made it), so they never contain a colon and never depend on id() of objects
that may since have been freed. Every label is an HTML-like label built with
html.escape, so names given by users cannot break the DOT source. The graph is
walked iteratively: any depth works.
"""
import contextlib
import html
import json
import os
import re
import shutil
import subprocess
import sysconfig
from importlib import resources

import graphviz
import numpy as np

import tinygrad_edu

HIGHLIGHT = "#1f6fd1"   # the article's blue for the path being explained
FILL = {"parameter": "#dbeafe", "input": "#eeeeee", "result": "#ffffff", "output": "#fde68a"}


class RendererNotFoundError(RuntimeError):
    """Neither Graphviz's `dot` nor graphviz-pure's program can be found."""


class Drawing(graphviz.Digraph):
    """A graphviz.Digraph that Jupyter shows inline with the same renderer as save_svg,
    so it displays on a machine without a system Graphviz too."""

    def _repr_mimebundle_(self, include=None, exclude=None, **_):
        return {"image/svg+xml": svg_of(self)}


# --- walking the graph -------------------------------------------------------

def _walk(root):
    """Every tensor behind root, each after all of its inputs (iterative depth-first search)."""
    order, done = [], set()
    stack = [(root, False)]
    while stack:
        t, inputs_done = stack.pop()
        if inputs_done:
            order.append(t)
        elif t not in done:
            # Marked when expanded, not when pushed, so a tensor reached again on a
            # longer path is still placed after everything it depends on.
            done.add(t)
            stack.append((t, True))
            if t.op is not None:
                stack.extend((x, False) for x in reversed(t.op.inputs) if x not in done)
    return order


def _nearest(root, max_nodes):
    """The tensors closest to root (breadth first) whose nodes fit in max_nodes."""
    kept, seen, queue, used = set(), {root}, [root], 0
    for t in queue:  # the queue grows while we walk it
        inputs = t.op.inputs if t.op is not None else ()
        used += _node_count(t)
        if used > max_nodes:
            break
        kept.add(t)
        kept.update(x for x in inputs if _is_number(x))  # drawn with their op, so counted with it
        for x in inputs:
            if x not in seen and not _is_number(x):
                seen.add(x)
                queue.append(x)
    return kept


def _node_count(t):
    """The nodes draw() makes for t: its own, its op's, and one per number its op uses."""
    if t.op is None:
        return 0 if _is_number(t) else 1
    return 2 + sum(_is_number(x) for x in t.op.inputs)


def display_name(t):
    """How drawings call a tensor: its name, else the op that made it, else its value or 'tensor'."""
    if t.name is not None:
        return t.name
    if t.op is not None:
        return t.op.name.lower()
    return f"{t.data.item():g}" if t.size == 1 else "tensor"


def _is_number(t):
    """An unnamed one-element constant, such as the 2 in x / 2."""
    return t.op is None and t.name is None and not t.requires_grad and t.size == 1


def _kind(t, root):
    if t is root:
        return "output"
    if t.op is not None:
        return "result"
    return "parameter" if t.requires_grad else "input"


class _Placeholders(dict):
    """Leaves a placeholder a custom op's formula names but we don't know as it is."""

    def __missing__(self, key):
        return "{" + key + "}"


def local_derivative(out, i):
    """The label of the edge from input i of out's op: e.g. 'dh2/dz2 = h2(1-h2)'."""
    ctx = out.op
    names = [display_name(x) for x in ctx.inputs]
    label = f"d{display_name(out)}/d{names[i]}"
    formulas = type(ctx).derivatives
    if i >= len(formulas):
        return label
    values = _Placeholders(ctx.params, out=display_name(out), x=names[0], a=names[0], b=names[-1])
    return f"{label} = {formulas[i].format_map(values)}"


# --- labels --------------------------------------------------------------------

def number_rows(array, digits):
    """A small array as lines of numbers, one line per row, each to `digits` significant digits."""
    rows = np.asarray(array).reshape(-1, array.shape[-1] if array.ndim else 1).tolist()  # floats format faster
    return ["  ".join(f"{v:.{digits}g}" for v in row) for row in rows]


def summary(array, digits):
    if array.size == 0:
        return ["empty"]
    return [f"min {array.min():.{digits}g}  mean {array.mean():.{digits}g}  max {array.max():.{digits}g}"]


def _numbers(array, digits, max_values):
    return number_rows(array, digits) if 0 < array.size <= max_values else summary(array, digits)


def _tensor_label(t, show_values, show_grads, digits, max_values):
    lines = [f"<b>{html.escape(display_name(t))}</b>", html.escape(f"{t.shape} {t.dtype}")]
    if show_values:
        lines += [html.escape(row) for row in _numbers(t.data, digits, max_values)]
    if show_grads and t.grad is not None:
        rows = _numbers(t.grad.data, digits, max_values)
        lines += [f'<font color="{HIGHLIGHT}">grad {html.escape(rows[0])}</font>']
        lines += [f'<font color="{HIGHLIGHT}">{html.escape(row)}</font>' for row in rows[1:]]
    return "<" + "<br/>".join(lines) + ">"


def _op_label(ctx):
    params = ", ".join(f"{k}={v}" for k, v in ctx.params.items() if v is not None and v is not False)
    return "<" + html.escape(f"{ctx.name} {params}".strip()) + ">"


def _plain(text):
    """A plain attribute value. graphviz quotes it, but leaves backslashes as DOT escapes and
    passes text in <...> through as an HTML label, so both are neutralised here."""
    return graphviz.nohtml(text.replace("\\", "\\\\"))


# --- draw ------------------------------------------------------------------------

def draw(t, show_values=True, show_grads=True, highlight=None, max_nodes=400, digits=4, max_values=16):
    """The graph that made t as a graphviz Digraph, drawn left to right.

    One node per tensor (name, shape, dtype; when it has at most `max_values`
    elements its values and gradient to `digits` significant digits, else
    min/mean/max) and one per op. `highlight` (a tensor or several) colours every
    path from t back to them and labels each edge on it with its local
    derivative. Ops made inside nn modules are grouped in a box per module call. At
    most `max_nodes` nodes are drawn (None: all), those nearest t; a note
    says how many were left out.
    """
    order = _walk(t)
    kept = set(order)
    if max_nodes is not None and sum(map(_node_count, order)) > max_nodes:
        kept = _nearest(t, max_nodes)
    node_id = {x: i for i, x in enumerate(order)}
    targets = set(_tensors(highlight))
    on_path = _paths_to(order, targets)
    # Shared attributes as defaults: quoting attributes is most of the time a large graph takes.
    graph = Drawing(graph_attr={"rankdir": "LR"},
                    node_attr={"fontname": "Helvetica", "fontsize": "10", "shape": "box",
                               "style": "filled,rounded", "fillcolor": FILL["result"]},
                    edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    clusters = _Clusters(graph, order)
    edges, cut = [], []
    for x in order:
        if x not in kept:
            continue
        if _is_number(x):
            continue  # drawn beside each op that uses it, below
        i = node_id[x]
        box = clusters.of(x)
        kind = _kind(x, t)
        style = {"fillcolor": FILL[kind]} if kind != "result" else {}
        if x in targets:
            style["penwidth"] = "2.5"
        box.node(f"t{i}", label=_tensor_label(x, show_values, show_grads, digits, max_values),
                 tooltip=_plain(display_name(x)), **style)
        if x.op is None:
            continue
        box.node(f"op{i}", label=_op_label(x.op), shape="ellipse")
        for position, parent in enumerate(x.op.inputs):
            if parent not in kept:
                cut.append(f"op{i}")
                continue
            tail = _input_node(parent, i, position, node_id)
            if _is_number(parent):
                box.node(tail, label=f"<{html.escape(display_name(parent))}>", shape="plaintext")
            style = {}
            if parent in on_path:
                label = html.escape(local_derivative(x, position))
                style = {"color": HIGHLIGHT, "penwidth": "2", "label": f'<<font color="{HIGHLIGHT}">{label}</font>>'}
            edges.append((tail, f"op{i}", style))
        carries = x in on_path and any(p in on_path for p in x.op.inputs)
        edges.append((f"op{i}", f"t{i}", {"color": HIGHLIGHT, "penwidth": "2"} if carries else {}))
    clusters.attach()
    if cut:
        _note_elided(graph, order, kept, cut, max_nodes)
    for tail, head, style in edges:
        graph.edge(tail, head, **style)
    return graph


def _input_node(parent, i, position, node_id):
    """The node an edge into op i starts from. A number gets a node per use: the engine shares
    one Tensor for each number, and one node wired to every op using it tangles the layout."""
    return f"c{i}_{position}" if _is_number(parent) else f"t{node_id[parent]}"


def _tensors(one_or_many):
    """None, a Tensor, or several, as a list."""
    if one_or_many is None:
        return []
    return [one_or_many] if isinstance(one_or_many, tinygrad_edu.Tensor) else list(one_or_many)


def _paths_to(order, targets):
    """The tensors on some path from the graph's output back to any of targets."""
    missing = targets - set(order)
    if missing:
        names = ", ".join(sorted(display_name(x) for x in missing))
        raise ValueError(f"draw: highlight names tensors that are not in this graph: {names}")
    on_path = set(targets)
    for x in order:  # inputs come first, so one pass suffices
        if x.op is not None and any(p in on_path for p in x.op.inputs):
            on_path.add(x)
    return on_path


def _note_elided(graph, order, kept, cut, max_nodes):
    left_out = [x for x in order if x not in kept]
    ops = sum(x.op is not None for x in left_out)
    graph.node("elided", shape="note", style="dashed",
               label=f"<{len(left_out)} more tensors and {ops} ops not drawn<br/>"
                     f"(max_nodes={max_nodes}; pass a larger max_nodes or None to see them)>")
    for head in dict.fromkeys(cut):
        graph.edge("elided", head, style="dashed")


class _Clusters:
    """A labelled box per nn module call ("MLP/Linear(2→3)" nests in "MLP"). A parameter goes
    in the box of its consumers when they all share one, so a layer's weights sit inside it.

    Two calls of modules with the same label (an MLP's two Sigmoid layers) share a scope
    string; a box holds one connected piece of the tensors under a scope, so each call
    gets a box of its own.
    """

    def __init__(self, graph, order):
        self.graph, self.boxes = graph, {}
        consumer_scopes = {}
        for x in order:
            if x.op is not None:
                for p in x.op.inputs:
                    consumer_scopes.setdefault(p, set()).add(x.op.scope)
        self.scope = {}
        for x in order:
            if x.op is not None:
                self.scope[x] = x.op.scope
            else:  # data stays outside; a parameter joins its users' box when they share one
                scopes = consumer_scopes.get(x, {None}) if x.requires_grad else {None}
                self.scope[x] = scopes.pop() if len(scopes) == 1 else None
        self.pieces = _Pieces()
        for x in order:
            for parent in x.op.inputs if x.op is not None else ():
                for path in _shared_paths(self.scope[x], self.scope.get(parent)):
                    self.pieces.join((path, x), (path, parent))

    def of(self, t):
        """The graph or cluster t's nodes go in, made (with its enclosing ones) on first use."""
        scope = self.scope[t]
        if scope is None:
            return self.graph
        parts, key = scope.split("/"), None
        for depth in range(1, len(parts) + 1):
            path = "/".join(parts[:depth])
            outer, key = key, (path, self.pieces.find((path, t)))
            if key not in self.boxes:
                box = graphviz.Digraph(
                    name=f"cluster_{len(self.boxes)}",
                    graph_attr={"label": f"<{html.escape(parts[depth - 1])}>", "style": "rounded,dashed",
                                "fontname": "Helvetica", "fontsize": "11"})
                self.boxes[key] = (box, outer)
        return self.boxes[key][0]

    def attach(self):
        """Put each box into its parent, innermost first (subgraph() copies the body as it is)."""
        for key in sorted(self.boxes, key=lambda k: k[0].count("/"), reverse=True):
            box, outer = self.boxes[key]
            (self.boxes[outer][0] if outer is not None else self.graph).subgraph(box)


def _shared_paths(scope, other):
    """The scope paths both tensors lie under: "MLP" and "MLP/Sigmoid" for two sigmoid ops."""
    if scope is None or other is None:
        return []
    parts, other_parts = scope.split("/"), other.split("/")
    shared = 0
    while shared < min(len(parts), len(other_parts)) and parts[shared] == other_parts[shared]:
        shared += 1
    return ["/".join(parts[:depth]) for depth in range(1, shared + 1)]


class _Pieces:
    """Union-find: which items are connected, after joining pairs of them."""

    def __init__(self):
        self.parent = {}

    def find(self, item):
        root = item
        while self.parent.get(root, root) is not root:  # `is`: == on tensors compares values
            root = self.parent[root]
        while item is not root:  # point the path straight at the root
            self.parent[item], item = root, self.parent.get(item, item)
        return root

    def join(self, a, b):
        self.parent[self.find(a)] = self.find(b)


# --- rendering -----------------------------------------------------------------------

def renderer():
    """The program that lays out graphs: Graphviz's `dot` on PATH, else graphviz-pure's,
    looked for on PATH and beside this Python (a venv used without activating it)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), sysconfig.get_path("scripts")])
    program = shutil.which("dot", path=search) or shutil.which("graphviz-pure", path=search)
    if program is None:
        raise RendererNotFoundError(
            "No Graphviz renderer found to turn the graph into SVG. Either install Graphviz so that `dot` "
            "is on PATH (apt-get install graphviz, brew install graphviz, or graphviz.org/download), "
            "or `pip install graphviz-pure` into this Python environment (a self-contained dot from PyPI).")
    return program


def svg_of(graph):
    """The SVG text of a Digraph. Piped through the renderer (no .gv files are left behind);
    Digraph.pipe() itself can only run a program named `dot`."""
    program = renderer()
    done = subprocess.run([program, "-Tsvg"], input=graph.source.encode(), capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"{program} failed (exit {done.returncode}): {done.stderr.decode(errors='replace')}")
    return done.stdout.decode()


def save_svg(t, path, **options):
    """Write draw(t, **options) to path as SVG."""
    svg = svg_of(draw(t, **options))
    with open(path, "w", encoding="utf-8") as f:
        f.write(svg)


# --- the explorer page ---------------------------------------------------------------

class _Tracer:
    """An observer that hands each backward step to record(op, output, its gradient, gradients to inputs)."""

    def __init__(self, record):
        self.backward = record


def _tracing(record):
    return tinygrad_edu.observe(_Tracer(record))


def record_backward(t):
    """Run reverse accumulation from t and return what each op's backward did, in the engine's
    order: [(output, its incoming gradient, gradients to its inputs before unbroadcasting)].

    It runs tinygrad_edu.grad() with retain_graph=True, so no .grad changes and t can
    still be backwarded afterwards. A graph that an earlier backward() has freed cannot be replayed.
    """
    if not t.requires_grad:
        raise RuntimeError("record_backward: the tensor does not require grad, so it has no backward pass to record")
    order = _walk(t)
    if any(x.op is not None and x.op.freed for x in order):
        raise RuntimeError("record_backward: an earlier backward() freed this graph's saved arrays, so its backward "
                           "pass cannot be replayed. Record before calling backward(), or call backward(retain_graph=True).")
    steps = []

    def record(ctx, output, g, input_grads):
        steps.append((output, np.array(g), tuple(None if x is None else np.array(x) for x in input_grads)))

    leaves = [x for x in order if x.op is None and x.requires_grad]
    with _tracing(record):
        tinygrad_edu.grad(t, leaves, grad_outputs=np.ones(t.shape, t.dtype), retain_graph=True, allow_unused=True)
    return steps


def _explorer_data(t, digits, max_values):
    """The page's tensors and steps: forward in topological order, then backward as the engine ran it."""
    order = _walk(t)
    steps = _Steps(t, order, digits, max_values)
    steps.start([x for x in order if x.op is None])
    for x in order:
        if x.op is not None:
            steps.forward(x)
    steps.seed()
    traced = {out: (g, input_grads) for out, g, input_grads in record_backward(t)}
    for x in tinygrad_edu.backward_order([t]):
        if x.op is None:
            steps.leaf(x)
        elif x in traced:  # else no gradient reached it (an op returned None) and the engine skipped it
            steps.backward(x, *traced[x])
    tensors = [{"name": display_name(x), "node": f"t{i}", "op": f"op{i}" if x.op is not None else None,
                "shape": f"{x.shape} {x.dtype}", "kind": _kind(x, t)} for i, x in enumerate(order)]
    return {"title": f"Backprop explorer: {steps.root}", "tensors": tensors, "steps": steps.steps}


class _Steps:
    """Writes the page's steps. Each has a title, blocks of numbers to show beside the graph,
    the node and edges to light up, and updates [tensor, "value" or "grad", rows] for the tensor panel."""

    def __init__(self, t, order, digits, max_values):
        self.output, self.root, self.steps = t, display_name(t), []
        self.index = {x: i for i, x in enumerate(order)}
        self.digits, self.max_values = digits, max_values
        self.totals = {}   # the gradient each tensor has received so far, summed as the engine sums it
        self.senders = {}  # the steps (numbered from 1, as the page shows them) that sent it

    def numbers(self, array):
        return _numbers(array, self.digits, self.max_values)

    def add(self, phase, node, title, blocks, updates, edges=(), **extra):
        self.steps.append({"phase": phase, "node": node, "title": title, "blocks": blocks,
                           "updates": updates, "edges": list(edges), **extra})

    def start(self, leaves):
        self.add("start", None, "Before the forward pass: only the inputs and parameters have values", [],
                 [[self.index[x], "value", self.numbers(x.data)] for x in leaves])

    def forward(self, x):
        i, name, rows = self.index[x], display_name(x), self.numbers(x.data)
        args = ", ".join(display_name(p) for p in x.op.inputs)
        edges = [f"{_input_node(p, i, k, self.index)}->op{i}" for k, p in enumerate(x.op.inputs)]
        self.add("forward", i, f"{name} = {x.op.name}({args})",
                 [{"label": f"value of {name}", "role": "value", "rows": rows}],
                 [[i, "value", rows]], edges + [f"op{i}->t{i}"])

    def seed(self):
        ones = self.totals[self.output] = np.ones(self.output.shape, self.output.dtype)
        i, root, rows = self.index[self.output], self.root, self.numbers(ones)
        self.add("backward", i, f"starts at {root}: d{root}/d{root} = 1",
                 [{"label": f"d{root}/d{root}", "role": "incoming", "rows": rows}], [[i, "grad", rows]])

    def backward(self, x, g, input_grads):
        """One op's backward: the incoming gradient, and for each input the local derivative,
        what it receives and, when it already had some, the engine's running sum."""
        i, name, root = self.index[x], display_name(x), self.root
        blocks = [{"label": f"incoming gradient d{root}/d{name}{self.sent_by(x)}", "role": "incoming",
                   "rows": self.numbers(g)}]
        updates, edges = [], []
        for position, (parent, sent) in enumerate(zip(x.op.inputs, input_grads)):
            if sent is None or not parent.requires_grad:
                continue
            if sent.shape != parent.shape:  # as the engine does: sum over the axes NumPy broadcast
                sent = tinygrad_edu.unbroadcast(sent, parent.shape)
            previous = self.totals.get(parent)
            total = self.totals[parent] = sent if previous is None else previous + sent
            target = display_name(parent)
            blocks.append({"label": f"to {target}: d{root}/d{target} = d{root}/d{name} · d{name}/d{target}, "
                                    f"local derivative {local_derivative(x, position)}",
                           "role": "pass", "rows": self.numbers(sent)})
            if previous is not None:
                blocks.append({"label": f"{target} already had a gradient{self.sent_by(parent)}; "
                                        f"the engine adds this one to it", "role": "total", "rows": self.numbers(total)})
            self.senders.setdefault(parent, []).append(len(self.steps) + 1)
            updates.append([self.index[parent], "grad", self.numbers(total)])
            edges.append(f"{_input_node(parent, i, position, self.index)}->op{i}")
        self.add("backward", i, f"{x.op.name}'s backward: from {name} to its inputs", blocks, updates,
                 edges + [f"op{i}->t{i}"])

    def leaf(self, x):
        if x not in self.totals:
            return
        i, name, rows = self.index[x], display_name(x), self.numbers(self.totals[x])
        self.add("backward", i, f"{name} gets its gradient: {name}.grad += d{self.root}/d{name}",
                 [{"label": f"d{self.root}/d{name}{self.sent_by(x)}", "role": "total", "rows": rows}],
                 [[i, "grad", rows]], kind="gradient", tensor=name)

    def sent_by(self, x):
        """Which steps the gradient x has so far came from, for a label."""
        steps = self.senders.get(x, [])
        if len(steps) > 1:
            return f", the sum of what steps {', '.join(map(str, steps))} sent"
        return f", as step {steps[0]} sent it" if steps else ""


def save_html(t, path, highlight=None, max_nodes=1000, digits=8, max_values=64):
    """Write one self-contained page (inline SVG, CSS and JavaScript) that steps through the
    forward pass and then the backward pass the engine really ran, for the graph behind t.

    Values are shown to `digits` significant digits; tensors with more than `max_values`
    elements as min/mean/max. The backward pass is recorded with record_backward(), so call
    this before backward() or with backward(retain_graph=True); no .grad is changed.
    """
    data = _explorer_data(t, digits, max_values)
    svg = svg_of(draw(t, show_values=False, show_grads=False, highlight=highlight, max_nodes=max_nodes))
    parts = {"TITLE": html.escape(data["title"]), "SVG": svg[svg.index("<svg"):],
             # "<" escaped inside the JSON, so no name can close the <script> element early.
             "DATA": json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")}
    template = resources.files(__package__).joinpath("explorer.html").read_text(encoding="utf-8")
    page = re.sub("__(TITLE|SVG|DATA)__", lambda m: parts[m[1]], template)  # one pass: no text is replaced twice
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
