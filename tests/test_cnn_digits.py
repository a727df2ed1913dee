"""examples/cnn_digits.py: a short training run learns the digits, and the script's command line works."""
import pathlib
import subprocess
import sys

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import cnn_digits  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_blas_thread")


def test_three_epochs_of_a_small_cnn_are_far_above_chance(capsys):
    accuracy = cnn_digits.main(["--epochs", "3", "--channels", "8", "16", "--hidden", "32", "--dropout", "0",
                                "--lr", "0.01", "--no-figure"])
    assert accuracy > 0.8  # chance is 10%; this run gives 92%, the full one about 98%
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1347 training and 450 test images")  # digits.py's split
    wrong = round((1 - accuracy) * 450)
    assert "epoch   3/3" in lines[-2] and lines[-1] == f"test accuracy {accuracy:.1%} ({wrong} of 450 wrong)"


def test_the_network_is_the_documented_one():
    model = cnn_digits.build((32, 64), 128, 0.5, seed=0)
    assert [type(m).__name__ for m in model] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                                                 "Flatten", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    weights_and_biases = (32 * 9 + 32) + (64 * 32 * 9 + 64) + (256 * 128 + 128) + (128 * 10 + 10)
    assert sum(p.size for p in model.parameters()) == weights_and_biases
    images = np.zeros((5, 1, 8, 8), dtype=np.float32)
    assert cnn_digits.predict(model, images).shape == (5,) and model.training  # predict() restores training mode


def test_the_script_runs_and_draws_its_figure(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / "cnn_digits.py"), "--epochs", "1", "--channels", "2", "4",
                             "--hidden", "8", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "epoch   1/1" in lines[1] and lines[-1].startswith("test accuracy ")
    assert (tmp_path / "cnn_digits.png").read_bytes().startswith(b"\x89PNG")


def test_help_works(capsys):
    with pytest.raises(SystemExit) as exit_:
        cnn_digits.main(["--help"])
    assert exit_.value.code == 0 and "usage:" in capsys.readouterr().out
