"""The backprop explorer: the recorded trace against the engine, the page's data, and the page in Chromium."""
import json
import os
import pathlib
import re

import numpy as np
import pytest

from test_viz import article_network
from tinygrad_edu import Tensor, scope, viz
from tinygrad_edu import backward_order

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def scoped_mlp():
    """A two-layer network with biases (so gradients are unbroadcast) built inside module scopes."""
    x = Tensor(np.linspace(-1, 1, 8).reshape(4, 2), name="x")
    h = x
    for n, (fan_in, fan_out) in enumerate([(2, 3), (3, 2)]):
        w = Tensor(np.linspace(-0.5, 0.5, fan_in * fan_out).reshape(fan_in, fan_out), requires_grad=True, name=f"W{n}")
        b = Tensor(np.full(fan_out, 0.1), requires_grad=True, name=f"b{n}")
        with scope("MLP"), scope(f"Linear({fan_in}→{fan_out})"):
            h = (h @ w + b).sigmoid()
    return (h * h).mean()  # h used twice: its gradient accumulates


def test_recorded_trace_follows_the_engines_backward_order():
    for loss in (article_network()["loss"], scoped_mlp()):
        traced = [out for out, _, _ in viz.record_backward(loss)]
        assert [id(t) for t in traced] == [id(t) for t in backward_order([loss]) if t.op is not None]


def test_recording_leaves_grads_alone_and_the_graph_reusable():
    net = article_network()
    viz.record_backward(net["loss"])
    assert net["W1"].grad is None and net["W2"].grad is None
    net["loss"].backward()  # still possible: the recording retained the graph
    assert net["W2"].grad is not None


def test_page_values_and_gradients_equal_the_engines():
    loss = scoped_mlp()
    data = viz._explorer_data(loss, digits=8, max_values=64)
    loss.backward()
    order = viz._walk(loss)
    forward = [s for s in data["steps"] if s["phase"] == "forward"]
    assert [s["node"] for s in forward] == [i for i, t in enumerate(order) if t.op is not None]
    for step in forward:
        assert step["blocks"][0]["rows"] == viz.number_rows(order[step["node"]].data, 8)
    gradients = {s["tensor"]: s["blocks"][0]["rows"] for s in data["steps"] if s.get("kind") == "gradient"}
    leaves = {t.name: t for t in order if t.requires_grad and t.op is None}
    assert gradients == {name: viz.number_rows(t.grad.data, 8) for name, t in leaves.items()}


def test_a_tensor_used_twice_shows_its_gradients_being_added():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    loss = (x * x.exp()).sum()
    steps = viz._explorer_data(loss, digits=8, max_values=64)["steps"]
    loss.backward()
    totals = [b for s in steps for b in s["blocks"] if b["role"] == "total" and "already had" in b["label"]]
    assert [b["rows"] for b in totals] == [viz.number_rows(x.grad.data, 8)]


def blocks_of(steps, title):
    """{label: rows} of the blocks of the one step whose title starts with title."""
    step, = [s for s in steps if s["title"].startswith(title)]
    return {b["label"]: b["rows"] for b in step["blocks"]}


def test_each_local_derivative_is_shown_with_its_numbers_beside_its_formula():
    net = article_network()
    steps = viz._explorer_data(net["loss"], digits=8, max_values=64)["steps"]
    h1, h2 = net["h1"].data, net["h2"].data
    sigmoid = blocks_of(steps, "Sigmoid's backward: from h2")
    assert sigmoid["local derivative dh2/dz2 = h2(1−h2)"] == viz.number_rows(h2 * (1 - h2), 8)
    matmul = blocks_of(steps, "Matmul's backward: from z2")
    assert matmul["local derivative dz2/dW2 = h1ᵀ"] == viz.number_rows(h1.T, 8)
    assert matmul["local derivative dz2/dh1 = W2ᵀ"] == viz.number_rows(net["W2"].data.T, 8)
    division = blocks_of(steps, "Div's backward: from loss")
    assert division["local derivative dloss/dsum = 1/2"] == ["0.5"]


def test_the_chain_rule_is_written_in_the_order_it_is_computed():
    net = article_network()
    steps = viz._explorer_data(net["loss"], digits=8, max_values=64)["steps"]
    net["loss"].backward(retain_graph=True)
    matmul = blocks_of(steps, "Matmul's backward: from z2")
    assert matmul["to W2: dloss/dW2 = h1ᵀ · dloss/dz2 (matrix product)"] == viz.number_rows(net["W2"].grad.data, 8)
    assert "to h1: dloss/dh1 = dloss/dz2 · W2ᵀ (matrix product)" in matmul
    sigmoid = blocks_of(steps, "Sigmoid's backward: from h2")
    assert "to z2: dloss/dz2 = dloss/dh2 × dh2/dz2, element by element" in sigmoid


def test_a_broadcast_input_says_its_gradient_was_summed_and_a_softmax_shows_its_formula_only():
    x = Tensor(np.ones((4, 3)), requires_grad=True, name="x")
    b = Tensor(np.zeros(3), requires_grad=True, name="b")
    loss = ((x + b).softmax() * Tensor(np.arange(12.0).reshape(4, 3), name="w")).sum()
    loss.name = "loss"
    steps = viz._explorer_data(loss, digits=8, max_values=64)["steps"]
    add = blocks_of(steps, "Add's backward")
    assert add["local derivative dadd/db = 1"] == viz.number_rows(np.ones((4, 3)), 8)
    assert "to b: dloss/db = dloss/dadd × dadd/db, element by element, then summed to b's shape (3,) " \
           "(NumPy broadcast it)" in add
    softmax = blocks_of(steps, "Softmax's backward")
    assert softmax["local derivative dsoftmax/dadd = softmax(δ−softmax)"] is None


def test_a_page_of_a_large_graph_is_bounded_like_the_drawing_and_says_so(tmp_path):
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    y = x
    for _ in range(5000):
        y = y * 1.0
    path = tmp_path / "big.html"
    viz.save_html(y.sum(), path, max_nodes=200)
    page = path.read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)[1])
    assert len(data["tensors"]) <= 200 and len(data["steps"]) <= 2 * len(data["tensors"]) + 2
    assert re.search(r"\d+ more tensors and \d+ ops are left out \(max_nodes=200; pass a larger", data["note"])
    assert len(page) < 500_000  # the steps of every op, without the bound, are 4.7 MB of JSON


def test_a_freed_graph_cannot_be_replayed_and_says_what_to_do(tmp_path):
    net = article_network()
    net["loss"].backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        viz.save_html(net["loss"], tmp_path / "page.html")


def test_the_page_is_self_contained_and_escapes_names(tmp_path):
    x = Tensor([1.0], requires_grad=True, name="</script><script>alert(1)</script>")
    path = tmp_path / "page.html"
    viz.save_html((x * 3).sum(), path)
    page = path.read_text(encoding="utf-8")
    assert "<script>alert" not in page
    assert not re.search(r"\b(src|href)\s*=", page)  # nothing to fetch
    assert "__DATA__" not in page and "__SVG__" not in page


def browser():
    """Playwright's sync API, or a skip (a failure in CI, which must run this) saying what is missing."""
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("the playwright package is not installed (pip install playwright)")
    if missing:
        (pytest.fail if os.environ.get("CI") else pytest.skip)("browser test: " + "; ".join(missing))
    return sync_playwright


@pytest.fixture(scope="module")
def chromium():
    sync_playwright = browser()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The article's page (W2's path highlighted) and a scoped MLP's, with the article's network."""
    folder = tmp_path_factory.mktemp("pages")
    net = article_network()
    viz.save_html(net["loss"], folder / "article.html", highlight=[net["W2"]])
    viz.save_html(scoped_mlp(), folder / "mlp.html")
    net["loss"].backward()
    return {"article": folder / "article.html", "mlp": folder / "mlp.html", "net": net}


def open_page(chromium, path, width, requests=None, errors=None):
    page = chromium.new_page(viewport={"width": width, "height": 900})
    page.on("pageerror", lambda error: (errors if errors is not None else []).append(str(error)))
    if requests is not None:
        page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    return page


def step_until(page, title):
    for _ in range(60):
        if page.inner_text("#step-title").endswith(title):
            return
        page.keyboard.press("ArrowRight")
    raise AssertionError(f"no step titled {title!r}")


def test_the_page_steps_to_w2s_gradient_in_chromium(chromium, pages, tmp_path):
    requests, errors = [], []
    page = open_page(chromium, pages["article"], 1000, requests, errors)
    step_until(page, "W2 gets its gradient: W2.grad += dloss/dW2")
    shown = page.inner_text('#step pre[data-role="total"]')
    screenshot = pathlib.Path(os.environ.get("EXPLORER_SCREENSHOT", tmp_path / "explorer.png"))
    page.screenshot(path=str(screenshot))  # 1000 px wide
    mlp = open_page(chromium, pages["mlp"], 1000, requests, errors)  # clusters, broadcasting, accumulation
    mlp.click("#play")
    mlp.fill("#slider", "1000")  # past the last step: the page clamps it
    counter = mlp.inner_text("#counter")
    assert re.fullmatch(r"step (\d+) / \1", counter), counter
    net = pages["net"]
    numbers = np.array([float(v) for v in shown.split()]).reshape(net["W2"].shape)
    np.testing.assert_allclose(numbers, net["W2"].grad.data, rtol=1e-7)
    assert requests == [pages["article"].as_uri(), pages["mlp"].as_uri()]  # the pages themselves, nothing else
    assert errors == []
    assert screenshot.stat().st_size > 10_000


@pytest.mark.parametrize("width", [1400, 1000, 600])
def test_the_graph_is_readable_at_any_width_and_pans_by_dragging(chromium, pages, width):
    page = open_page(chromium, pages["article"], width)
    smallest = page.evaluate("() => Math.min(...[...document.querySelectorAll('#graph g.node text')]"
                             ".map((t) => t.getBoundingClientRect().height))")
    assert smallest >= 10  # pixels; "fit graph" made them 5 at 1400 px
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # the page itself never scrolls sideways
    box = page.locator("#graph").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 - 100, box["y"] + 40, steps=5)
    page.mouse.up()
    assert page.evaluate("document.getElementById('graph').scrollLeft") == 100  # wider than the window at 80%


def test_zoom_buttons_and_keys(chromium, pages):
    page = open_page(chromium, pages["article"], 1000)
    assert page.inner_text("#zoom") == "80%"
    page.click("#zoom-in")
    assert page.inner_text("#zoom") == "100%"
    page.keyboard.press("-")
    assert page.inner_text("#zoom") == "80%"
    page.keyboard.press("0")  # fit: the whole graph in the box
    assert page.evaluate("(() => { const g = document.getElementById('graph'); "
                         "return g.scrollWidth <= g.clientWidth; })()")


def counter(page):
    return int(re.match(r"step (\d+) /", page.inner_text("#counter"))[1])


def test_the_keys_work_wherever_focus_is(chromium, pages):
    page = open_page(chromium, pages["article"], 1000)
    last = len(re.findall(r'"phase":', pages["article"].read_text(encoding="utf-8")))
    page.click("#slider", position={"x": 2, "y": 5})  # touching the slider gives it focus
    assert page.evaluate("document.activeElement.id") == "slider" and counter(page) == 1
    page.keyboard.press("ArrowRight")
    assert counter(page) == 2  # one step, not two (the slider does not also move itself)
    page.keyboard.press("End")
    assert counter(page) == last
    page.keyboard.press("Home")
    assert counter(page) == 1
    page.keyboard.press(" ")
    assert page.inner_text("#play") == "⏸ pause"
    page.keyboard.press(" ")
    assert page.inner_text("#play") == "▶ play"
    page.click("#next")  # focus on a button: space plays instead of clicking it again
    assert counter(page) == 2
    page.keyboard.press(" ")
    assert page.inner_text("#play") == "⏸ pause" and counter(page) == 2
    page.keyboard.press(" ")
    page.keyboard.press("ArrowLeft")
    assert page.inner_text("#play") == "▶ play" and counter(page) == 1


def test_the_page_names_its_columns_and_shows_local_derivatives_with_numbers(chromium, pages):
    page = open_page(chromium, pages["article"], 1000)
    assert page.locator("thead th").all_inner_texts() == ["tensor", "shape, dtype", "value",
                                                          "gradient dloss/d(tensor), as summed so far"]
    step_until(page, "Matmul's backward: from z2 to its inputs")
    labels = page.locator("#step-body .label").all_inner_texts()
    assert "local derivative dz2/dW2 = h1ᵀ" in labels and "to W2: dloss/dW2 = h1ᵀ · dloss/dz2 (matrix product)" in labels
    local = page.inner_text('#step-body .block[data-role="local"]:has-text("dz2/dW2") pre')
    h1 = pages["net"]["h1"].data
    np.testing.assert_allclose(np.array(local.split(), dtype=float).reshape(h1.T.shape), h1.T, rtol=1e-7)
