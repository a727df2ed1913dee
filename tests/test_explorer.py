"""The backprop explorer: the recorded trace against the engine, the page's data, and the page in Chromium."""
import os
import pathlib
import re

import numpy as np
import pytest

from test_viz import article_network
from tinygrad_edu import Tensor, scope, viz
from tinygrad_edu.tensor import backward_order

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


def test_the_page_steps_to_w2s_gradient_in_chromium(tmp_path):
    sync_playwright = browser()
    net = article_network()
    article_page, mlp_page = tmp_path / "article.html", tmp_path / "mlp.html"
    viz.save_html(net["loss"], article_page, highlight=[net["W2"]])
    viz.save_html(scoped_mlp(), mlp_page)
    net["loss"].backward()
    screenshot = pathlib.Path(os.environ.get("EXPLORER_SCREENSHOT", tmp_path / "explorer.png"))
    requests, errors = [], []
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(article_page.as_uri())
            for _ in range(40):
                step = page.locator("#step")
                if step.get_attribute("data-kind") == "gradient" and step.get_attribute("data-tensor") == "W2":
                    break
                page.keyboard.press("ArrowRight")
            shown = page.inner_text('#step pre[data-role="total"]')
            page.screenshot(path=str(screenshot))
            page.goto(mlp_page.as_uri())  # clusters, broadcasting, accumulation: plays to the end
            page.click("#play")
            page.fill("#slider", "1000")  # past the last step: the page clamps it
            counter = page.inner_text("#counter")
            assert re.fullmatch(r"step (\d+) / \1", counter), counter
        finally:
            chromium.close()
    numbers = np.array([float(v) for v in shown.split()]).reshape(net["W2"].shape)
    np.testing.assert_allclose(numbers, net["W2"].grad.data, rtol=1e-7)
    assert requests == [article_page.as_uri(), mlp_page.as_uri()]  # the pages themselves, nothing else
    assert errors == []
    assert screenshot.stat().st_size > 10_000
