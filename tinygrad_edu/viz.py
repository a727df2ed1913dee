"""Drawings of the graph behind a tensor: a Graphviz Digraph, an SVG file, and a web page
that steps through the forward and backward pass.

Tools like this one read the graph only through the engine's public view: `t.op`,
`op.inputs`, `op.name`, `op.params`, `op.scope`, `op.derivatives`, `op.freed`, and
`tinygrad_edu.observe` for the backward pass.

Node IDs are numbered in walk order ("t3" for a tensor, "op3" for the op that
made it), so they never contain a colon and never depend on id() of objects
that may since have been freed. Any text a user supplies (names, module labels,
op parameters, custom formulas) passes through text(): shown as its str, control
characters escaped, cut when long; labels are HTML-like labels built with
html.escape, so no name can break the DOT source or the renderer. The graph is
walked iteratively: any depth works. The layout is graphviz-pure's unless the
system Graphviz is asked for, so a drawing is the same SVG on every machine.
"""
import html
import json
import os
import re
import shutil
import subprocess
import sysconfig
import warnings
from importlib import resources

import graphviz
import numpy as np

import tinygrad_edu

HIGHLIGHT = "#1f6fd1"   # the article's blue for the path being explained
FILL = {"parameter": "#dbeafe", "input": "#eeeeee", "result": "#ffffff", "output": "#fde68a"}
MAX_TEXT = 100   # characters of a name or other user text in a label; more are cut, with a note
MAX_LINE = 300   # characters of one line of numbers
MAX_ROWS = 16    # lines of numbers for one array; more are cut, with a note
RENDERERS = ("graphviz-pure", "dot")


class RendererNotFoundError(RuntimeError):
    """The Graphviz program asked for cannot be found."""


class RendererError(RuntimeError):
    """The Graphviz program ran but gave no SVG."""


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
    """The tensors closest to root (breadth first) whose nodes fit in max_nodes; root always."""
    kept, seen, queue, used = set(), {root}, [root], 0
    for t in queue:  # the queue grows while we walk it
        inputs = t.op.inputs if t.op is not None else ()
        used += _node_count(t)
        if used > max_nodes and kept:
            break
        kept.add(t)
        kept.update(x for x in inputs if _is_number(x))  # drawn with their op, so counted with it
        for x in inputs:
            if x not in seen and not _is_number(x):
                seen.add(x)
                queue.append(x)
    return kept


def _kept(root, order, max_nodes):
    """The tensors a drawing (and a page) shows: all, or those nearest root when they make more than max_nodes nodes."""
    if max_nodes is None or sum(map(_node_count, order)) <= max_nodes:
        return set(order)
    return _nearest(root, max_nodes)


def _node_count(t):
    """The nodes draw() makes for t: its own, its op's, and one per number its op uses."""
    if t.op is None:
        return 0 if _is_number(t) else 1
    return 2 + sum(_is_number(x) for x in t.op.inputs)


def display_name(t):
    """How drawings call a tensor: its name (any object, as text()), else the op that made it,
    else its value or 'tensor'."""
    if t.name is not None:
        return text(t.name)
    if t.op is not None:
        return text(t.op.name.lower())
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
    """The label of the edge from input i of out's op: e.g. 'dh2/dz2 = h2(1−h2)'."""
    op = out.op
    names = [display_name(x) for x in op.inputs]
    label = f"d{display_name(out)}/d{names[i]}"
    if i >= len(op.derivatives):
        return label
    formula = text(op.derivatives[i])
    values = _Placeholders({key: text(value) for key, value in op.params.items()},
                           out=display_name(out), x=names[0], a=names[0], b=names[-1])
    try:
        formula = formula.format_map(values)
    except (ValueError, AttributeError, IndexError):  # a custom op's formula that is not a format string
        pass
    return f"{label} = {formula}"


# --- text and labels -----------------------------------------------------------------

def text(value, limit=MAX_TEXT):
    """Any object as text a drawing can show: its str (its type when str() fails), with control
    characters, NUL and lone surrogates escaped as Python writes them (\\n, \\x00, \\ud800), cut to
    `limit` characters with a note saying how many more there were."""
    try:
        shown = str(value)
    except Exception:  # str() of a user's object may raise anything
        shown = f"<{type(value).__name__} object>"
    if not shown.isprintable():
        shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in shown)
    if len(shown) > limit:
        shown = f"{shown[:limit]}… ({len(shown) - limit} more characters)"
    return shown


def number_rows(array, digits):
    """A small array as lines of numbers, one line per row, each to `digits` significant digits."""
    rows = np.asarray(array).reshape(-1, array.shape[-1] if array.ndim else 1).tolist()  # floats format faster
    return ["  ".join(f"{v:.{digits}g}" for v in row) for row in rows]


def summary(array, digits):
    if array.size == 0:
        return ["empty"]
    return [f"min {array.min():.{digits}g}  mean {array.mean():.{digits}g}  max {array.max():.{digits}g}"]


def _numbers(array, digits, max_values):
    """An array as lines for a label: all its numbers when it has at most max_values, else a
    summary; at most MAX_ROWS lines of MAX_LINE characters, whatever max_values allows."""
    rows = number_rows(array, digits) if 0 < array.size <= max_values else summary(array, digits)
    lines = [text(row, MAX_LINE) for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines.append(f"… {len(rows) - MAX_ROWS} more rows")
    return lines


def _tensor_label(t, show_values, show_grads, digits, max_values):
    lines = [f"<b>{html.escape(display_name(t))}</b>", html.escape(text(f"{t.shape} {t.dtype}"))]
    if show_values:
        lines += [html.escape(row) for row in _numbers(t.data, digits, max_values)]
    if show_grads and t.grad is not None:
        rows = _numbers(t.grad.data, digits, max_values)
        lines += [f'<font color="{HIGHLIGHT}">grad {html.escape(rows[0])}</font>']
        lines += [f'<font color="{HIGHLIGHT}">{html.escape(row)}</font>' for row in rows[1:]]
    return "<" + "<br/>".join(lines) + ">"


def _index_text(index):
    """An index as Python writes it inside brackets: (0, slice(1, None)) as [0, 1:], so a
    drawing shows which elements were picked; index arrays are shown by their values."""
    def part(p):
        if isinstance(p, slice):
            start, stop = ("" if v is None else str(v) for v in (p.start, p.stop))
            return f"{start}:{stop}" + ("" if p.step is None else f":{p.step}")
        if p is Ellipsis:
            return "..."
        if isinstance(p, np.ndarray) and p.dtype == bool:
            return f"mask picking {int(p.sum())} of {p.size}"
        if isinstance(p, np.ndarray):
            return np.array2string(p, separator=",", threshold=6, edgeitems=2).replace("\n", "")
        return str(p)
    parts = index if isinstance(index, tuple) else (index,)
    return text("[" + ", ".join(part(p) for p in parts) + "]")


def _op_label(op):
    params = ", ".join(f"{text(k)}={_index_text(v) if k == 'index' else text(v)}"
                       for k, v in op.params.items() if v is not None and v is not False)
    return "<" + html.escape(text(f"{op.name} {params}".strip(), limit=3 * MAX_TEXT)) + ">"


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
    kept = _kept(t, order, max_nodes)
    node_id = {x: i for i, x in enumerate(order)}
    targets = set(_tensors(highlight))
    on_path = _paths_to(order, targets)
    # Shared attributes as defaults: quoting attributes is most of the time a large graph takes.
    # nslimit caps the network-simplex passes that place nodes across ranks: a tensor used by many ops
    # (a weight shared by every step of a loop) made them grow fast (400 nodes: 246 s, now 23 s);
    # smaller graphs, the article's included, come out the same.
    graph = Drawing(graph_attr={"rankdir": "LR", "nslimit": "2"},
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
        self.index = {x: i for i, x in enumerate(order)}  # the union-find's items hold numbers, never tensors
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
                    self.pieces.join((path, self.index[x]), (path, self.index[parent]))

    def of(self, t):
        """The graph or cluster t's nodes go in, made (with its enclosing ones) on first use."""
        scope = self.scope[t]
        if scope is None:
            return self.graph
        parts, key = scope.split("/"), None
        for depth in range(1, len(parts) + 1):
            path = "/".join(parts[:depth])
            outer, key = key, (path, self.pieces.find((path, self.index[t])))
            if key not in self.boxes:
                box = graphviz.Digraph(
                    name=f"cluster_{len(self.boxes)}",
                    graph_attr={"label": f"<{html.escape(text(parts[depth - 1]))}>", "style": "rounded,dashed",
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
    """Union-find: which items are connected, after joining pairs of them. Items are compared
    with == and !=, so they hold numbers, never tensors (whose == compares elementwise)."""

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

def find_renderer(renderer="graphviz-pure"):
    """The path of a Graphviz program: "graphviz-pure" (installed with this package; looked for
    beside this Python first, so an unactivated venv works) or "dot" (the system Graphviz)."""
    if renderer not in RENDERERS:
        raise ValueError(f"renderer must be one of {', '.join(map(repr, RENDERERS))}, not {text(repr(renderer))}")
    search = os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
    program = shutil.which(renderer, path=search)
    if program is None:
        raise RendererNotFoundError(
            f"No `{renderer}` program found to turn the graph into SVG. `pip install graphviz-pure` into this "
            "Python environment (a self-contained dot from PyPI, the default renderer), or install Graphviz "
            "so that `dot` is on PATH (apt-get install graphviz, brew install graphviz, graphviz.org/download) "
            "and pass renderer=\"dot\".")
    return program


def svg_of(graph, renderer="graphviz-pure"):
    """The SVG text of a Digraph, laid out by graphviz-pure (the same SVG on every machine) or, with
    renderer="dot", by the system Graphviz. When that is missing or fails (one whose plug-ins are
    not configured yet, say), graphviz-pure draws it instead, with a warning saying why.
    The source is piped through the program: no .gv files are left behind."""
    if renderer == "dot":
        try:
            return _render(find_renderer("dot"), graph.source)
        except (RendererNotFoundError, RendererError) as error:
            warnings.warn(f"{error}; drawing with graphviz-pure instead", RuntimeWarning, stacklevel=2)
        renderer = "graphviz-pure"
    return _render(find_renderer(renderer), graph.source)


def _render(program, source):
    try:
        done = subprocess.run([program, "-Tsvg"], input=source.encode("utf-8"), capture_output=True)
    except OSError as error:  # found but cannot be run
        raise RendererError(f"{program} could not be run: {error}") from None
    if done.returncode != 0 or b"<svg" not in done.stdout:
        raise RendererError(f"{program} failed (exit {done.returncode}): "
                            f"{done.stderr.decode(errors='replace').strip()[:2000]}")
    return done.stdout.decode("utf-8")


def save_svg(t, path, renderer="graphviz-pure", **options):
    """Write draw(t, **options) to path as SVG, laid out by `renderer` (see svg_of)."""
    svg = svg_of(draw(t, **options), renderer)
    with open(path, "w", encoding="utf-8") as f:
        f.write(svg)


# --- the explorer page ---------------------------------------------------------------

class _Recorder:
    """An observer (see tinygrad_edu.observe) keeping a copy of each backward step of the ops
    that made `wanted` tensors: (output, its incoming gradient, the gradients to its inputs)."""

    def __init__(self, wanted):
        self.wanted, self.steps = wanted, []

    def backward(self, op, out, grad_output, input_grads):
        if self.wanted is None or out in self.wanted:
            copies = tuple(None if g is None else np.array(g) for g in input_grads)
            self.steps.append((out, np.array(grad_output), copies))


def record_backward(t, only=None):
    """Run reverse accumulation from t and return what each op's backward did, in the engine's
    order: [(output, its incoming gradient, gradients to its inputs)], for every op or, given a set
    of tensors `only`, for the ops that made those.

    It runs tinygrad_edu.grad() with retain_graph=True, so no .grad changes and t can
    still be backwarded afterwards. A graph that an earlier backward() has freed cannot be replayed.
    """
    if not t.requires_grad:
        raise RuntimeError("record_backward: the tensor does not require grad, so it has no backward pass to record")
    order = _walk(t)
    if any(x.op is not None and x.op.freed for x in order):
        raise RuntimeError("record_backward: an earlier backward() freed this graph's saved arrays, so its backward "
                           "pass cannot be replayed. Record before calling backward(), or call backward(retain_graph=True).")
    recorder = _Recorder(only)
    leaves = [x for x in order if x.op is None and x.requires_grad]
    with tinygrad_edu.observe(recorder):
        tinygrad_edu.grad(t, leaves, grad_outputs=np.ones(t.shape, t.dtype), retain_graph=True, allow_unused=True)
    return recorder.steps


def local_values(out, position):
    """The numbers of the local derivative d(out)/d(input `position`) that its formula names, or None.

    A matmul's is the other operand transposed (the formula's {b}ᵀ or {a}ᵀ). An op whose output
    elements each depend on one element of that input (after broadcasting: sigmoid, mul, div...)
    has one number per output element, which its backward applied to ones gives; a second,
    random gradient checks that the op is of that kind. Any other op's local derivative is a
    whole Jacobian (softmax) or a sum over outputs (sum, reshape), and its formula stands alone.
    """
    op = out.op
    if op.name == "Matmul":
        other = op.inputs[1 - position].data
        return np.swapaxes(other, -1, -2) if other.ndim >= 2 else other
    ones = np.ones(out.shape, out.dtype)
    probe = np.random.default_rng(0).uniform(0.5, 1.5, out.shape).astype(out.dtype)
    local, scaled = (_backward_of(op, g)[position] for g in (ones, probe))
    if local is None or np.shape(local) != out.shape or not np.allclose(scaled, local * probe, rtol=1e-3, atol=0):
        return None
    return np.asarray(local)


def _backward_of(op, g):
    """The op's backward applied to g (its saved arrays are kept: the page records with retain_graph)."""
    grads = type(op).backward(op, g)
    return grads if isinstance(grads, tuple) else (grads,)


def _explorer_data(t, digits, max_values, max_nodes=None):
    """The page's tensors and steps: forward in topological order, then backward as the engine ran
    it, for the tensors the drawing shows (those nearest t when there are more than max_nodes)."""
    order = _walk(t)
    kept = _kept(t, order, max_nodes)
    shown = [x for x in order if x in kept]
    steps = _Steps(t, order, shown, digits, max_values)
    steps.start([x for x in shown if x.op is None])
    for x in shown:
        if x.op is not None:
            steps.forward(x)
    steps.seed()
    traced = {out: (g, input_grads) for out, g, input_grads in record_backward(t, only=kept)}
    for x in tinygrad_edu.backward_order([t]):
        if x not in kept:
            continue
        if x.op is None:
            steps.leaf(x)
        elif x in traced:  # else no gradient reached it (an op returned None) and the engine skipped it
            steps.backward(x, *traced[x])
    node = {x: i for i, x in enumerate(order)}
    tensors = [{"name": display_name(x), "node": f"t{node[x]}", "op": f"op{node[x]}" if x.op is not None else None,
                "shape": text(f"{x.shape} {x.dtype}"), "kind": _kind(x, t)} for x in shown]
    note = None
    if len(shown) < len(order):
        left_out = [x for x in order if x not in kept]
        note = (f"This page shows the {len(shown)} tensors nearest {steps.root} and their steps; "
                f"{len(left_out)} more tensors and {sum(x.op is not None for x in left_out)} ops are left out "
                f"(max_nodes={max_nodes}; pass a larger max_nodes, or None, to see them all).")
    return {"title": f"Backprop explorer: {steps.root}", "root": steps.root, "tensors": tensors,
            "steps": steps.steps, "note": note}


class _Steps:
    """Writes the page's steps. Each has a title, blocks of numbers to show beside the graph,
    the node and edges to light up, and updates [tensor, "value" or "grad", rows] for the tensor panel.
    A tensor is numbered by its row in the page's table; its nodes by its place in the walk."""

    def __init__(self, t, order, shown, digits, max_values):
        self.output, self.root, self.steps = t, display_name(t), []
        self.node = {x: i for i, x in enumerate(order)}
        self.row = {x: i for i, x in enumerate(shown)}
        self.digits, self.max_values = digits, max_values
        self.totals = {}   # the gradient each tensor has received so far, summed as the engine sums it
        self.senders = {}  # the steps (numbered from 1, as the page shows them) that sent it

    def numbers(self, array):
        return _numbers(np.asarray(array), self.digits, self.max_values)

    def add(self, phase, x, title, blocks, updates, edges=(), **extra):
        self.steps.append({"phase": phase, "node": None if x is None else self.row[x], "title": title,
                           "blocks": blocks, "updates": updates, "edges": list(edges), **extra})

    def edges_into(self, x):
        """The drawing's edges from x's op's inputs that the page shows, and from its op to x."""
        i = self.node[x]
        return [f"{_input_node(p, i, k, self.node)}->op{i}" for k, p in enumerate(x.op.inputs) if p in self.row] \
            + [f"op{i}->t{i}"]

    def start(self, leaves):
        self.add("start", None, "Before the forward pass: only the inputs and parameters have values", [],
                 [[self.row[x], "value", self.numbers(x.data)] for x in leaves])

    def forward(self, x):
        name, rows = display_name(x), self.numbers(x.data)
        args = ", ".join(display_name(p) for p in x.op.inputs)
        self.add("forward", x, f"{name} = {text(x.op.name)}({args})",
                 [{"label": f"value of {name}", "role": "value", "rows": rows}],
                 [[self.row[x], "value", rows]], self.edges_into(x))

    def seed(self):
        ones = self.totals[self.output] = np.ones(self.output.shape, self.output.dtype)
        root, rows = self.root, self.numbers(ones)
        self.add("backward", self.output, f"starts at {root}: d{root}/d{root} = 1",
                 [{"label": f"d{root}/d{root}", "role": "incoming", "rows": rows}], [[self.row[self.output], "grad", rows]])

    def backward(self, x, g, input_grads):
        """One op's backward: the incoming gradient, and for each input the local derivative
        (formula and numbers), the chain rule's product in the order it is computed, what the
        input receives and, when it already had some, the engine's running sum."""
        name, root = display_name(x), self.root
        blocks = [{"label": f"incoming gradient d{root}/d{name}{self.sent_by(x)}", "role": "incoming",
                   "rows": self.numbers(g)}]
        updates = []
        for position, (parent, sent) in enumerate(zip(x.op.inputs, input_grads)):
            if sent is None or not parent.requires_grad or parent not in self.row:
                continue
            target, local = display_name(parent), local_values(x, position)
            blocks.append({"label": f"local derivative {local_derivative(x, position)}", "role": "local",
                           "rows": None if local is None else self.numbers(local)})
            blocks.append({"label": f"to {target}: {self.product(x, position, local is not None)}",
                           "role": "pass", "rows": self.numbers(sent)})
            previous = self.totals.get(parent)
            total = self.totals[parent] = sent if previous is None else previous + sent
            if previous is not None:
                blocks.append({"label": f"{target} already had a gradient{self.sent_by(parent)}; "
                                        f"the engine adds this one to it", "role": "total", "rows": self.numbers(total)})
            self.senders.setdefault(parent, []).append(len(self.steps) + 1)
            updates.append([self.row[parent], "grad", self.numbers(total)])
        self.add("backward", x, f"{text(x.op.name)}'s backward: from {name} to its inputs", blocks, updates,
                 self.edges_into(x))

    def product(self, x, position, elementwise):
        """The chain rule for input `position` of x's op, written in the order it is computed."""
        root, name = self.root, display_name(x)
        inputs = x.op.inputs
        target = display_name(inputs[position])
        if x.op.name == "Matmul" and len(inputs) == 2:
            a, b = (display_name(p) for p in inputs)
            if position == 0:
                return f"d{root}/d{a} = d{root}/d{name} · {b}ᵀ (matrix product)"
            return f"d{root}/d{b} = {a}ᵀ · d{root}/d{name} (matrix product)"
        product = f"d{root}/d{target} = d{root}/d{name} × d{name}/d{target}"
        if elementwise:
            product += ", element by element"
            if inputs[position].shape != x.shape:
                product += f", then summed to {target}'s shape {inputs[position].shape} (NumPy broadcast it)"
        return product

    def leaf(self, x):
        if x not in self.totals:
            return
        name, rows = display_name(x), self.numbers(self.totals[x])
        self.add("backward", x, f"{name} gets its gradient: {name}.grad += d{self.root}/d{name}",
                 [{"label": f"d{self.root}/d{name}{self.sent_by(x)}", "role": "total", "rows": rows}],
                 [[self.row[x], "grad", rows]], kind="gradient", tensor=name)

    def sent_by(self, x):
        """Which steps the gradient x has so far came from, for a label."""
        steps = self.senders.get(x, [])
        if len(steps) > 1:
            return f", the sum of what steps {', '.join(map(str, steps))} sent"
        return f", as step {steps[0]} sent it" if steps else ""


def save_html(t, path, highlight=None, max_nodes=1000, digits=8, max_values=64, renderer="graphviz-pure"):
    """Write one self-contained page (inline SVG, CSS and JavaScript) that steps through the
    forward pass and then the backward pass the engine really ran, for the graph behind t.

    Values are shown to `digits` significant digits; tensors with more than `max_values`
    elements as min/mean/max. Like draw(), the page keeps the `max_nodes` nodes nearest t and
    their steps (None: all), and says how many it left out, so its size is bounded too.
    The backward pass is recorded with record_backward(), so call this before backward() or
    with backward(retain_graph=True); no .grad is changed.
    """
    data = _explorer_data(t, digits, max_values, max_nodes)
    svg = svg_of(draw(t, show_values=False, show_grads=False, highlight=highlight, max_nodes=max_nodes), renderer)
    parts = {"TITLE": html.escape(data["title"]), "SVG": svg[svg.index("<svg"):],
             # "<" escaped inside the JSON, so no name can close the <script> element early.
             "DATA": json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")}
    template = resources.files(__package__).joinpath("explorer.html").read_text(encoding="utf-8")
    page = re.sub("__(TITLE|SVG|DATA)__", lambda m: parts[m[1]], template)  # one pass: no text is replaced twice
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
