"""Every example runs (with tiny step counts) so none can rot; the worked example matches the article."""
import html
import json
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import nn
from tinygrad_edu import backward_order

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import demo  # noqa: E402
import digits  # noqa: E402
import draw_graph  # noqa: E402
import explain  # noqa: E402
import handwritten  # noqa: E402
import worked_example  # noqa: E402
import xor  # noqa: E402

# The article's printed numbers for its one-sample step (N = 1, λ = 0, α = 0.001).
ARTICLE = {
    "h1": [0.19626223, 0.71301043, 0.48867814],
    "h2": [0.37166596, 0.45414264],
    "dLoss/dh2": [-0.62833404, 0.45414264],
    "dh2/dz2": [0.23353037, 0.2478971],
    "dLoss/dW2": [[-0.02879856, 0.02209533], [-0.10462365, 0.08027117], [-0.07170623, 0.0550157]],
    "dLoss/dh1": [0.02599101, 0.01515256, 0.08274025],
    "dh1/dz1": [0.15774337, 0.20462656, 0.24987182],
    "dLoss/dW1": [[0.00723246, 0.00546965, 0.03647082], [0.00164061, 0.00124073, 0.00827303]],
    "W2*": [[-0.41488852, -0.30995026], [-0.31573451, -0.27714495], [-0.44694491, 0.15225557]],
    "W1*": [[-0.67747178, 0.37768878, -0.073689], [-0.53663683, 0.60920372, 0.21148795]],
}


def test_worked_example_reproduces_the_articles_digits():
    computed = worked_example.walk_through()
    for name, printed in ARTICLE.items():
        # The article truncates its 8th decimal at times, so allow 2e-8 rather than exact digits.
        np.testing.assert_allclose(computed[name], printed, rtol=0, atol=2e-8, err_msg=name)


def test_worked_example_prints_each_step(capsys):
    worked_example.main([])
    out = capsys.readouterr().out
    for name in ARTICLE:
        assert f"\n{name} " in "\n" + out
    assert "0.02209533" in out and "-0.41488852" in out


@pytest.mark.parametrize("module", [xor, worked_example, handwritten, digits, demo, draw_graph, explain])
def test_help_works(module, capsys):
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"])
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("script", ["quickstart.py", "property_test.py"])
def test_scripts_without_main_honour_help(script):
    """--help prints the usage and runs nothing (property_test would run Hypothesis, quickstart train)."""
    result = subprocess.run([sys.executable, str(EXAMPLES / script), "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")
    assert "dloss/dw" not in result.stdout and "on every tensor Hypothesis tried" not in result.stdout


def test_quickstart_prints_its_loss_and_gradients():
    result = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("loss     0.38")


def test_draw_graph_runs_from_another_folder(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / "draw_graph.py"), "article.svg"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "article.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


def test_draw_graph_names_a_missing_folder(tmp_path, capsys):
    with pytest.raises(SystemExit):
        draw_graph.main([str(tmp_path / "missing" / "article.svg")])
    assert f"the folder {tmp_path / 'missing'} does not exist" in capsys.readouterr().err


def test_the_article_network_names_every_tensor_as_the_article_does():
    net = draw_graph.article_network()
    assert set(net) == {"W1", "z1", "h1", "W2", "z2", "h2", "err", "loss"}
    np.testing.assert_allclose(net["h2"].numpy(), [ARTICLE["h2"]], rtol=0, atol=2e-8)


def test_xor_script_runs_and_writes_its_figure(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / "xor.py"), "--steps", "20", "--log-every", "10",
                             "--out", str(tmp_path), "--no-graph", "--clip", "1", "--lr-half-life", "5"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "step       20/20" in result.stdout
    figure = tmp_path / "xor_h3_lr0.003_reg0_sgd_clip1_halflife5.png"
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_xor_with_adam_regularisation_and_biases_runs(tmp_path, capsys):
    history, written = xor.main(["--steps", "10", "--optimizer", "adam", "--reg", "1e-4", "--bias", "--hidden", "5",
                                 "--out", str(tmp_path), "--no-graph"])
    assert len(history["loss"]) == 10 and np.all(np.isfinite(history["loss"]))
    assert written == [str(tmp_path / "xor_h5_lr0.003_reg0.0001_adam_bias.png")]
    assert pathlib.Path(written[0]).exists()


def test_xor_runs_with_different_optimisers_write_different_files(tmp_path, capsys):
    names = {xor.run_name(xor.parse_args(["--optimizer", optimizer])) for optimizer in ("sgd", "adam")}
    assert names == {"xor_h3_lr0.003_reg0_sgd", "xor_h3_lr0.003_reg0_adam"}


def test_xor_rejects_a_network_without_hidden_units(capsys):
    with pytest.raises(SystemExit):
        xor.parse_args(["--hidden", "0"])
    assert "--hidden must be at least 1: the network needs a hidden unit, got 0" in capsys.readouterr().err


def test_xor_names_the_tensors_of_its_network_and_loss():
    model = xor.ArticleNetwork(4, seed=0, bias=True)
    loss = xor.article_loss(model, *nn.data.xor(10), reg=1e-3)
    names = {t.name for t in backward_order([loss])} - {None}
    assert names == {"W1", "b1", "z1", "h1", "W2", "b2", "z2", "h2", "err", "data term", "penalty", "loss"}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's own note on the NaN
def test_xor_stops_with_advice_when_the_loss_blows_up(tmp_path):
    with pytest.raises(SystemExit, match="lower --lr, use --clip or --lr-half-life"):
        xor.main(["--steps", "5", "--lr", "inf", "--out", str(tmp_path), "--no-graph"])


def test_xor_rejects_a_batch_that_leaves_no_test_set(capsys):
    with pytest.raises(SystemExit):
        xor.parse_args(["--batch", "300"])
    assert "--batch must be between 1 and --points - 1" in capsys.readouterr().err


def test_xor_writes_the_loss_graph_and_the_explain_page(tmp_path, capsys):
    xor.main(["--steps", "3", "--out", str(tmp_path), "--explain", str(tmp_path / "explain")])
    assert (tmp_path / "xor_h3_lr0.003_reg0_sgd_graph.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    assert "W2" in (tmp_path / "explain" / "worked_example.html").read_text()


def test_demo_draws_the_articles_network_with_named_tensors(tmp_path, capsys):
    written = demo.main(["--steps", "20", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert [pathlib.Path(path).name for path in written] == [
        "xor_h3_lr8_reg0_sgd.png", "xor_h3_lr8_reg0_sgd_graph.svg", "worked_example.html",
        "xor_h8_lr2_reg0_sgd_bias.png", "xor_h8_lr2_reg0_sgd_bias_graph.svg"]
    assert out.splitlines()[-1] == "Open these in a browser or image viewer: " + ", ".join(written)
    graph = html.unescape((tmp_path / "xor_h3_lr8_reg0_sgd_graph.svg").read_text())
    for label in ("dz2/dW2 = h1ᵀ", "dh2/dz2 = h2(1", "dloss/dsum", ">W1<", ">z1<", ">h1<", ">W2<", ">z2<", ">h2<"):
        assert label in graph
    page = (tmp_path / "worked_example.html").read_text()
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)[1])
    names = [t["name"] for t in data["tensors"]]
    assert {"X", "W1", "z1", "h1", "W2", "z2", "h2", "loss"} <= set(names) and "matmul" not in names


def test_handwritten_shows_the_slipped_gradient(capsys):
    handwritten.main(["--batch", "20"])
    lines = capsys.readouterr().out.splitlines()
    numeric, by_hand, slipped = (float(line.split()[-1]) for line in lines[1:4])
    assert np.isclose(by_hand, numeric, rtol=1e-6) and not np.isclose(slipped, numeric, rtol=0.5)


def test_handwritten_trains_with_both_gradients_side_by_side(capsys):
    handwritten.main(["--hidden", "4", "--train", "20"])
    lines = capsys.readouterr().out.splitlines()
    assert "article code: loss" in lines[1] and len(lines) == 12 and lines[-1].split()[0] == "20"


def test_digits_reaches_95_percent_test_accuracy(tmp_path, capsys):
    saved = tmp_path / "digits.npz"
    assert digits.main(["--save", str(saved)]) >= 0.95
    out = capsys.readouterr().out
    assert "epoch  15/15" in out and saved.exists()
    assert "the model:\nMLP(\n  (0): Linear(64→64)\n  (1): ReLU\n  (2): Linear(64→10)\n)\n" in out  # a layer a line
