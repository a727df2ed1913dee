"""Graph drawings: structure of the article network's Digraph, labels, highlight, SVG, renderer errors."""
import html
import importlib.util
import pathlib
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from tinygrad_edu import Function, Tensor, scope, viz

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
SVG = "{http://www.w3.org/2000/svg}"
XLINK_TITLE = "{http://www.w3.org/1999/xlink}title"
# The chain rule for dLoss/dW2, one factor per edge, as the article's figure names them.
W2_PATH_LABELS = {"dloss/dsum = 1/2", "dsum/dsquare = 1", "dsquare/derr = 2err", "derr/dh2 = −1",
                  "dh2/dz2 = h2(1−h2)", "dz2/dW2 = h1ᵀ"}


def article_network():
    """The worked example's network, built by the example that draws the README's picture."""
    import sys
    sys.path.insert(0, str(EXAMPLES))  # draw_graph imports its neighbour worked_example
    try:
        spec = importlib.util.spec_from_file_location("draw_graph", EXAMPLES / "draw_graph.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module.article_network()


def label_lines(label):
    """An HTML-like label's text, one entry per <br/>-separated line."""
    return [html.unescape(re.sub(r"<[^>]*>", "", line)) for line in label.split("<br/>")]


def parse(graph):
    """({node id: label lines}, [(tail, head, edge label or None)]) read back from the DOT source."""
    nodes, edges = {}, []
    for line in graph.source.splitlines():
        edge = re.match(r"\s*(\w+) -> (\w+)(?: \[(.*)\])?$", line)
        node = re.match(r"\s*(\w+) \[label=<(.*?)> \w+=", line)
        if edge:
            label = re.search(r"label=<(.*?)> \w+=", edge[3] or "")
            edges.append((edge[1], edge[2], label and label_lines(label[1])[0]))
        elif node:
            nodes[node[1]] = label_lines(node[2])
    return nodes, edges


def structure(graph):
    """Each op as (its input names, op name, output name): the graph by meaning, not by layout."""
    nodes, edges = parse(graph)
    ops = set()
    for op in (n for n in nodes if n.startswith("op")):
        inputs = tuple(nodes[tail][0] for tail, head, _ in edges if head == op)
        output, = [nodes[head][0] for tail, head, _ in edges if tail == op]
        ops.add((inputs, nodes[op][0], output))
    return ops


@pytest.fixture
def net():
    net = article_network()
    net["loss"].backward()
    return net


def test_article_network_has_its_tensors_ops_and_edges(net):
    assert structure(viz.draw(net["loss"])) == {
        (("X", "W1"), "Matmul", "z1"), (("z1",), "Sigmoid", "h1"),
        (("h1", "W2"), "Matmul", "z2"), (("z2",), "Sigmoid", "h2"),
        (("y", "h2"), "Sub", "err"), (("err",), "Square", "square"),
        (("square",), "Sum", "sum"), (("sum", "2"), "Div", "loss")}


def test_node_ids_are_walk_numbers_without_colons(net):
    nodes, edges = parse(viz.draw(net["loss"]))
    assert all(re.fullmatch(r"(t|op)\d+|c\d+_\d+", n) for n in nodes)  # c: a number beside its op
    assert {n for e in edges for n in e[:2]} <= set(nodes)


def test_labels_show_values_and_grads_rounded_to_significant_digits(net):
    nodes, _ = parse(viz.draw(net["loss"], digits=4))
    by_name = {lines[0]: lines for lines in nodes.values()}
    for name in ("W1", "W2"):
        t = net[name]
        rows = ["  ".join(f"{v:.4g}" for v in row) for row in t.data]
        grads = ["  ".join(f"{v:.4g}" for v in row) for row in t.grad.data]
        assert by_name[name] == [name, f"{t.shape} float64", *rows, "grad " + grads[0], *grads[1:]]
    assert by_name["loss"][2] == f"{net['loss'].item():.4g}"
    assert "grad" not in " ".join(by_name["h1"])  # a non-leaf keeps no .grad


def test_large_tensors_are_summarised_and_values_can_be_hidden():
    big = Tensor.randn(10, 10, seed=0, requires_grad=True)
    big.name = "big"
    lines = parse(viz.draw(big.sum(), max_values=16))[0]["t0"]
    assert lines[2] == f"min {big.data.min():.4g}  mean {big.data.mean():.4g}  max {big.data.max():.4g}"
    assert parse(viz.draw(big.sum(), show_values=False))[0]["t0"] == ["big", "(10, 10) float32"]


def test_highlight_labels_every_edge_on_the_path_to_w2_with_its_local_derivative(net):
    nodes, edges = parse(viz.draw(net["loss"], highlight=[net["W2"]]))
    assert {label for *_, label in edges if label} == W2_PATH_LABELS
    w1 = next(n for n, lines in nodes.items() if lines[0] == "W1")
    assert all(label is None for tail, _, label in edges if tail == w1)


def test_highlight_of_a_tensor_outside_the_graph_is_a_clear_error(net):
    with pytest.raises(ValueError, match="not in this graph: stranger"):
        viz.draw(net["loss"], highlight=Tensor([1.0], name="stranger"))


def test_svg_parses_names_every_tensor_and_carries_derivative_labels(net, tmp_path):
    path = tmp_path / "article.svg"
    viz.save_svg(net["loss"], path, highlight=net["W2"])
    root = ET.parse(path).getroot()
    groups = root.iter(f"{SVG}g")
    titles = {a.get(XLINK_TITLE) for g in groups if g.get("class") == "node" for a in g.iter(f"{SVG}a")}
    assert {"X", "y", "W1", "W2", "z1", "h1", "z2", "h2", "err", "loss"} <= titles
    edge_texts = {"".join(t.itertext()) for g in root.iter(f"{SVG}g") if g.get("class") == "edge"
                  for t in g.iter(f"{SVG}text")}
    assert edge_texts == W2_PATH_LABELS
    assert list(tmp_path.iterdir()) == [path]  # piped: no .gv file left behind


@pytest.mark.parametrize("name", ['a:b "c" \\d {e} <f> |g & h', "<b>html</b>", "trailing\\"])
def test_names_with_dot_and_html_syntax_are_escaped(tmp_path, name):
    x = Tensor([1.0, 2.0], requires_grad=True, name=name)
    path = tmp_path / "odd.svg"
    viz.save_svg((x * 2).sum(), path, highlight=x)
    root = ET.parse(path).getroot()
    texts = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
    assert name in texts and f"dmul/d{name} = 2" in texts
    assert name in {a.get(XLINK_TITLE) for a in root.iter(f"{SVG}a")}


def test_ops_in_nn_scopes_are_grouped_in_nested_clusters():
    x = Tensor([[1.0, 2.0]], name="x")
    w = Tensor(np.ones((2, 3)), requires_grad=True, name="w")
    with scope("MLP"), scope("Linear(2→3)"):
        h = (x @ w).sigmoid()
    graph = viz.draw(h.sum())
    source = graph.source
    mlp = source.index("label=<MLP>")
    linear = source.index("label=<Linear(2→3)>")
    assert source.count("subgraph cluster_") == 2 and mlp < linear
    body = source[linear:source.index("}", linear)]
    assert "<b>w</b>" in body and "<b>sigmoid</b>" in body  # the weight joins its layer
    assert "<b>x</b>" not in body  # data stays outside


def test_two_calls_of_modules_with_the_same_label_get_a_box_each():
    # An MLP with two hidden layers: its two Sigmoid (and Linear(2→2)) layers share a label.
    h = Tensor([[1.0, 2.0]], name="x")
    with scope("MLP"):
        for layer in range(2):
            with scope("Linear(2→2)"):
                h = h @ Tensor(np.ones((2, 2)), requires_grad=True, name=f"w{layer}")
            with scope("Sigmoid"):
                h = h.sigmoid()
    source = viz.draw(h.sum()).source
    boxes = [(match.group(1), source[match.end():source.index("}", match.end())])
             for match in re.finditer(r"label=<([^>]*)> style=\"rounded,dashed\"", source)]
    assert sorted(label for label, _ in boxes) == ["Linear(2→2)"] * 2 + ["MLP"] + ["Sigmoid"] * 2
    for label, body in boxes:
        if label == "Sigmoid":
            assert body.count("<b>sigmoid</b>") == 1
        if label == "Linear(2→2)":
            assert body.count("<b>matmul</b>") == 1 and body.count("<b>w") == 1  # each layer's own weight


def test_a_deep_graph_is_walked_without_recursion_and_elided_with_a_note():
    x = Tensor([1.0], requires_grad=True, name="x")
    y, one = x, Tensor(1.0, name="one")
    for _ in range(5000):  # far deeper than Python's recursion limit
        y = y * one
    nodes, edges = parse(viz.draw(y, max_nodes=50))
    note = nodes.pop("elided")
    assert len(nodes) <= 50
    tensors_left, ops_left = map(int, re.match(r"(\d+) more tensors and (\d+) ops not drawn", note[0]).groups())
    drawn = {kind: sum(n.startswith(kind) for n in nodes) for kind in ("t", "op")}
    # 5000 results, x and one make the 5002 tensors.
    assert (tensors_left + drawn["t"], ops_left + drawn["op"]) == (5002, 5000)
    assert "max_nodes=50" in note[1] and any(tail == "elided" for tail, *_ in edges)


def test_jupyter_gets_svg_from_the_same_renderer(net):
    bundle = viz.draw(net["loss"])._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]


def test_without_any_renderer_save_svg_names_both_remedies(net, tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(viz.sysconfig, "get_path", lambda name: str(empty))  # no venv scripts either
    with pytest.raises(viz.RendererNotFoundError, match=r"(?s)pip install graphviz-pure.*install Graphviz.*renderer=\"dot\""):
        viz.save_svg(net["loss"], tmp_path / "never.svg")
    assert not (tmp_path / "never.svg").exists()


def test_display_names_fall_back_to_op_then_value():
    x = Tensor(np.ones(3), requires_grad=True)
    assert [viz.display_name(t) for t in (x, x.exp(), Tensor(0.5))] == ["tensor", "exp", "0.5"]


def fake_dot(tmp_path, monkeypatch, script):
    """A `dot` on PATH that runs script (sh), as a system Graphviz would be found."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dot = bin_dir / "dot"
    dot.write_text("#!/bin/sh\nwhile read -r line; do :; done\n" + script)  # reads the DOT source
    dot.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return dot


def test_graphviz_pure_draws_by_default_even_with_a_system_dot_on_path(net, tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, "echo '<svg><title>from dot</title></svg>'\n")
    viz.save_svg(net["loss"], tmp_path / "g.svg")
    svg = (tmp_path / "g.svg").read_text()
    assert "from dot" not in svg and "<svg" in svg
    assert svg == viz.svg_of(viz.draw(net["loss"]))  # the same SVG every time


def test_the_system_dot_draws_when_asked_for(net, tmp_path, monkeypatch):
    dot = fake_dot(tmp_path, monkeypatch, "echo '<svg><title>from dot</title></svg>'\n")
    assert viz.find_renderer("dot") == str(dot)
    viz.save_svg(net["loss"], tmp_path / "g.svg", renderer="dot")
    assert "from dot" in (tmp_path / "g.svg").read_text()


@pytest.mark.parametrize("script", [
    'echo \'Format: "svg" not recognized. Use one of:\' >&2\nexit 1\n',  # Debian's dot before `dot -c` has run
    "exit 0\n",                                                          # no SVG at all
])
def test_a_failing_system_dot_falls_back_to_graphviz_pure_with_a_warning(net, tmp_path, monkeypatch, script):
    fake_dot(tmp_path, monkeypatch, script)
    with pytest.warns(RuntimeWarning, match="(?s)dot failed .* drawing with graphviz-pure instead"):
        viz.save_svg(net["loss"], tmp_path / "g.svg", renderer="dot")
    assert (tmp_path / "g.svg").read_text() == viz.svg_of(viz.draw(net["loss"]))


def test_asking_for_a_missing_system_dot_falls_back_with_a_warning(net, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.warns(RuntimeWarning, match="No `dot` program found"):
        assert "<svg" in viz.svg_of(viz.draw(net["loss"]), renderer="dot")


def test_an_unknown_renderer_is_a_clear_error(net):
    with pytest.raises(ValueError, match="renderer must be one of 'graphviz-pure', 'dot', not 'neato'"):
        viz.svg_of(viz.draw(net["loss"]), renderer="neato")


# --- hostile names and sizes ------------------------------------------------------------------

class Unprintable:
    def __str__(self):
        raise RuntimeError("no text for you")


@pytest.mark.parametrize("name, shown", [
    (5, "5"), (2.5, "2.5"), (("W", 1), "('W', 1)"), (pathlib.PurePosixPath("a/b"), "a/b"),
    (Unprintable(), "<Unprintable object>"),
])
def test_any_object_as_a_name_is_shown_as_its_str(tmp_path, name, shown):
    x = Tensor([1.0, 2.0], requires_grad=True, name=name)
    path = tmp_path / "g.svg"
    viz.save_svg((x * 3).sum(), path, highlight=x)
    texts = {"".join(t.itertext()) for t in ET.parse(path).getroot().iter(f"{SVG}text")}
    assert shown in texts and f"dmul/d{shown} = 3" in texts


HOSTILE_NAMES = [("a\x00b", r"a\x00b"), ("line\nbreak\ttab", r"line\nbreak\ttab"), ("\ud800", r"\ud800"),
                 ("\x1b[31mred", r"\x1b[31mred"), ("bidi\u202eevil", r"bidi\u202eevil"), ("\x7f", r"\x7f")]


@pytest.mark.parametrize("name, shown", HOSTILE_NAMES)
def test_control_characters_nul_and_lone_surrogates_are_escaped(tmp_path, name, shown):
    x = Tensor([1.0, 2.0], requires_grad=True, name=name)
    with scope(name):  # as a module's label too
        y = x * 2
    path = tmp_path / "g.svg"
    viz.save_svg(y.sum(), path, highlight=x)
    root = ET.parse(path).getroot()  # well-formed XML: no control character got through
    texts = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
    assert {shown, f"dmul/d{shown} = 2"} <= texts
    viz.save_html(y.sum(), tmp_path / "page.html")
    assert shown in (tmp_path / "page.html").read_text(encoding="utf-8")


def test_a_long_name_is_cut_with_a_note(tmp_path):
    x = Tensor([1.0], requires_grad=True, name="x" * 20_000)
    graph = viz.draw((x * 2).sum(), highlight=x)
    shown = "x" * viz.MAX_TEXT + "… (19900 more characters)"
    assert parse(graph)[0]["t0"][0] == shown
    assert max(map(len, graph.source.splitlines())) < 2_000  # the system dot fails on labels over 16,384
    viz.save_svg((x * 2).sum(), tmp_path / "g.svg")


def test_long_parameters_and_many_values_are_cut_with_a_note():
    x = Tensor(np.arange(300.0).reshape(100, 3), requires_grad=True, name="x")
    deep = x.reshape(*(1,) * 60, 300)  # its shape, and its op's parameter, are long texts
    graph = viz.draw(deep.sum(), max_values=10 ** 6)
    nodes, _ = parse(graph)
    x_label = next(lines for lines in nodes.values() if lines[0] == "x")
    assert len(x_label) == 2 + viz.MAX_ROWS + 1 and x_label[-1] == f"… {100 - viz.MAX_ROWS} more rows"
    reshape_label = next(lines for lines in nodes.values() if lines[0].startswith("Reshape"))
    assert reshape_label[0].endswith("more characters)")
    assert max(map(len, graph.source.splitlines())) < 16_384


def test_a_scope_label_and_a_custom_formula_with_odd_text_are_shown(tmp_path):
    class Odd(Function):
        derivatives = ("{0} and {x.real} and {", )

        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = Tensor([1.0], requires_grad=True, name="x")
    with scope("layer\x00one"):
        y = Odd.apply(x)
    path = tmp_path / "g.svg"
    viz.save_svg(y.sum(), path, highlight=x)
    texts = {"".join(t.itertext()) for t in ET.parse(path).getroot().iter(f"{SVG}text")}
    assert r"layer\x00one" in texts and "dodd/dx = {0} and {x.real} and {" in texts


@pytest.mark.parametrize("pick, shown", [
    (lambda x: x[0, 1:], "GetItem index=[0, 1:]"),
    (lambda x: x[..., ::2], "GetItem index=[..., ::2]"),
    (lambda x: x[np.array([0, 2, 2])], "GetItem index=[[0,2,2]]"),
    (lambda x: x[x > 5], "GetItem index=[mask picking 6 of 12]"),
    (lambda x: x[None, 1, :3], "GetItem index=[None, 1, :3]"),
])
def test_indexing_shows_which_elements_were_picked(pick, shown):
    x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True, name="x")
    assert shown in viz.draw(pick(x).sum()).source
