"""examples/tiny_transformer.py: the causal mask hides the future, a short run learns to sort, the CLI works."""
import pathlib
import subprocess
import sys

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import tiny_transformer as tt  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_blas_thread")


def test_sequences_are_digits_a_separator_and_the_digits_sorted():
    rows = tt.sequences(50, np.random.default_rng(0))
    assert rows.shape == (50, 17) and np.all(rows[:, 8] == tt.SEPARATOR)
    np.testing.assert_array_equal(rows[:, 9:], np.sort(rows[:, :8], axis=1))
    assert rows[:, :8].min() == 0 and rows[:, :8].max() == 9


def test_no_position_sees_a_later_one():
    model = tt.Sorter(dim=16, heads=2, layers=2, seed=0)
    tokens = tt.sequences(3, np.random.default_rng(1))[:, :-1]
    changed = tokens.copy()
    changed[:, 10:] = (changed[:, 10:] + 1) % 10
    before, after = model(tokens).numpy(), model(changed).numpy()
    np.testing.assert_array_equal(before[:, :10], after[:, :10])  # positions 0..9 cannot tell
    assert not np.allclose(before[:, 10:], after[:, 10:])
    weights = model.blocks[0].attention.weights.numpy()  # (batch, heads, query, key)
    assert weights.shape == (3, 2, 16, 16)
    np.testing.assert_array_equal(np.triu(weights, k=1), 0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1, rtol=1e-5)
    assert not any(name.endswith("weights") for name, _ in model.named_parameters())  # kept, not learned


def test_a_short_run_learns_to_sort(capsys):
    accuracy = tt.main(["--steps", "150", "--dim", "32", "--heads", "2", "--test", "200", "--log-every", "50",
                        "--no-figure"])
    lines = capsys.readouterr().out.splitlines()
    assert "step   150/150" in lines[-2] and lines[-1].startswith("held-out sequences sorted exactly right:")
    first_loss, last_loss = (float(line.split("loss")[1].split()[0]) for line in (lines[1], lines[-2]))
    assert last_loss < 1.0 < first_loss  # chance is ln 10 = 2.3 per digit
    # Guessing sorts about one sequence in 10^8 right; this run sorts 13 of 200 (the full run 99%+).
    assert accuracy >= 0.03


def test_the_script_runs_and_draws_the_attention_map(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / "tiny_transformer.py"), "--steps", "2", "--dim", "16",
                             "--heads", "2", "--layers", "1", "--test", "10", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("held-out sequences sorted exactly right:")
    assert (tmp_path / "tiny_transformer_attention.png").read_bytes().startswith(b"\x89PNG")


def test_help_works(capsys):
    with pytest.raises(SystemExit) as exit_:
        tt.main(["--help"])
    assert exit_.value.code == 0 and "usage:" in capsys.readouterr().out
