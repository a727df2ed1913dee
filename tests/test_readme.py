"""Every ```python block in the README runs as written, so the docs cannot drift from the code.

The blocks run in order in one namespace, as a reader would type them: a later
block may use what an earlier one defined (the network in "Checking gradients"
is drawn in "Drawing the graph")."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 3


def test_readme_examples_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace = {"__name__": "__readme__"}
    for number, code in enumerate(BLOCKS):
        try:
            exec(compile(code, f"README.md python block {number}", "exec"), namespace)
        except Exception as error:
            pytest.fail(f"README python block {number} fails: {error!r}\n{code}")
