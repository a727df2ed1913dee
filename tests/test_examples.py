"""Every example runs (with tiny step counts) so none can rot; the worked example matches the article."""
import pathlib
import subprocess
import sys

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import digits  # noqa: E402
import handwritten  # noqa: E402
import worked_example  # noqa: E402
import xor  # noqa: E402

try:
    from tinygrad_edu import viz
except ImportError:
    viz = None

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


@pytest.mark.parametrize("module", [xor, worked_example, handwritten, digits])
def test_help_works(module, capsys):
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"])
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_xor_script_runs_and_writes_its_figure(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / "xor.py"), "--steps", "20", "--log-every", "10",
                             "--out", str(tmp_path), "--no-graph", "--clip", "1", "--lr-half-life", "5"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "step       20/20" in result.stdout
    figure = tmp_path / "xor_h3_lr0.003_reg0.png"
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_xor_with_adam_regularisation_and_biases_runs(tmp_path, capsys):
    history = xor.main(["--steps", "10", "--optimizer", "adam", "--reg", "1e-4", "--bias", "--hidden", "5",
                        "--out", str(tmp_path), "--no-graph"])
    assert len(history["loss"]) == 10 and np.all(np.isfinite(history["loss"]))
    assert (tmp_path / "xor_h5_lr0.003_reg0.0001_bias.png").exists()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's own note on the NaN
def test_xor_stops_with_advice_when_the_loss_blows_up(tmp_path):
    with pytest.raises(SystemExit, match="lower --lr, use --clip or --lr-half-life"):
        xor.main(["--steps", "5", "--lr", "inf", "--out", str(tmp_path), "--no-graph"])


def test_xor_rejects_a_batch_that_leaves_no_test_set(capsys):
    with pytest.raises(SystemExit):
        xor.parse_args(["--batch", "300"])
    assert "--batch must be between 1 and --points - 1" in capsys.readouterr().err


@pytest.mark.skipif(viz is None, reason="tinygrad_edu.viz is not installed")
def test_xor_writes_the_loss_graph_and_the_explain_page(tmp_path):
    xor.main(["--steps", "3", "--out", str(tmp_path), "--explain", str(tmp_path / "explain")])
    assert (tmp_path / "xor_h3_lr0.003_reg0_graph.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    assert "W2" in (tmp_path / "explain" / "worked_example.html").read_text()


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
    assert "epoch  15/15" in capsys.readouterr().out and saved.exists()
