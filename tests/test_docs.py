"""The README and every page under docs/ run as written, and print what they show.

A new page needs nothing but to be saved as docs/NAME.md. How a page is read:
- Every ```python block runs, in page order, each in a fresh namespace, as a
  reader pasting it into a new Python session would. A block whose first line
  starts with `# continues` runs on in the namespace of the block before it.
- A ```text block right after a ```python block (only blank lines between) is
  the output of that block: what it prints must equal it, line by line (trailing
  spaces ignored). `...` in the shown output stands for any text, as in doctest.
- A ```sh block right after which a ```text block follows is a command line
  whose output is shown: each of its lines (`python examples/...`) runs from the
  repository's root and their output must equal the text. Other ```sh blocks
  (`make demo`) are instructions and do not run.
- Two marks, an HTML comment on the line before a block's fence, keep a block
  out: `<!-- not run -->` (a long training run whose example has its own quick
  test) and `<!-- output not compared -->` (timings). Keep them rare.
- A block may not print a warning, and a ```text block that no code block
  prints is an error: every output a page shows is checked.
Code runs in a temporary folder that has the repository's examples/ in it, so
files it writes land there.
"""
import contextlib
import io
import linecache
import pathlib
import re
import shlex
import subprocess
import sys
import warnings
from dataclasses import dataclass

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN, NOT_COMPARED = "<!-- not run -->", "<!-- output not compared -->"


@dataclass
class Block:
    language: str
    code: str
    line: int            # of the opening fence, 1-based
    mark: str | None     # NOT_RUN, NOT_COMPARED or None
    adjacent: bool       # only blank lines (and a mark) between the block before and this one
    output: "Block | None" = None


def read_blocks(text):
    """The fenced blocks of a page, each python or sh block with the text block that shows its output."""
    blocks, lines, i, gap_is_blank = [], text.splitlines(), 0, False
    while i < len(lines):
        fence = re.match(r"```(\w*)\s*$", lines[i])
        if not fence:
            gap_is_blank = gap_is_blank and (not lines[i].strip() or lines[i].strip() in (NOT_RUN, NOT_COMPARED))
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```")
        before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        blocks.append(Block(fence[1], "\n".join(lines[i + 1:end]) + "\n", i + 1,
                            before if before in (NOT_RUN, NOT_COMPARED) else None, gap_is_blank))
        i, gap_is_blank = end + 1, True
    for previous, block in zip(blocks, blocks[1:]):
        if block.language == "text" and block.adjacent and previous.language in ("python", "sh"):
            previous.output = block
    return blocks


def matches(shown, printed):
    """Whether printed output equals the shown one, `...` standing for any text."""
    def tidy(text):
        return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())
    pattern = ".*?".join(re.escape(part) for part in tidy(shown).split("..."))
    return re.fullmatch(pattern, tidy(printed), flags=re.S) is not None


def run_python(block, namespace, name):
    """Run a block in namespace; return what it printed. Its source is registered with linecache,
    so tracebacks and detect_anomaly quote its lines as they would from a file."""
    linecache.cache[name] = (len(block.code), None, block.code.splitlines(True), name)
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
        warnings.simplefilter("always")
        exec(compile(block.code, name, "exec"), namespace)
    if caught:
        pytest.fail(f"{name} printed a warning: {caught[0].category.__name__}: {caught[0].message}")
    return printed.getvalue()


def run_commands(block, name):
    """Run each line of a sh block (a `python ...` command) from the repository's root; return their output."""
    printed = ""
    for command in filter(None, (line.strip() for line in block.code.splitlines())):
        words = shlex.split(command)
        if words[0] != "python":
            pytest.fail(f"{name}: only `python ...` commands can show their output, not {command!r}")
        done = subprocess.run([sys.executable, *words[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.fail(f"{name}: {command} failed:\n{done.stderr}")
        printed += done.stdout
    return printed


def check_page(page):
    namespace = None
    for block in read_blocks(page.read_text(encoding="utf-8")):
        name = f"{page.relative_to(ROOT)}:{block.line}"
        if block.mark == NOT_RUN or block.language not in ("python", "sh"):
            continue
        if block.language == "python":
            if namespace is None or not block.code.startswith("# continues"):
                namespace = {"__name__": "__main__"}
            printed = run_python(block, namespace, name)
        elif block.output is not None:
            printed = run_commands(block, name)
        else:
            continue  # an instruction such as `make demo`
        shown = block.output
        if shown is not None and shown.mark != NOT_COMPARED and not matches(shown.code, printed):
            pytest.fail(f"{name}: the block prints\n{printed}\nbut the page shows (line {shown.line})\n{shown.code}")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_runs_and_prints_what_it_shows(page, tmp_path, monkeypatch):
    # Pages are read from the repository's root: the temporary folder the code runs in
    # (so that files it writes land there) has the examples beside it as the root does.
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # a page's sys.path.insert ends with the page
    check_page(page)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_output_shown_belongs_to_a_block_that_prints_it(page):
    blocks = read_blocks(page.read_text(encoding="utf-8"))
    printed_by_something = {id(b.output) for b in blocks if b.output is not None}
    orphans = [b.line for b in blocks if b.language == "text" and id(b) not in printed_by_something]
    assert not orphans, f"{page.name}: ```text blocks at lines {orphans} follow no python or sh block that prints them"


def test_pages_link_only_to_files_in_the_repository():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert "API.md" not in text, f"{page.name} points to API.md, which is not in the repository"
        for target in re.findall(r"\]\(([^)#]+)", text):
            if not re.match(r"\w+://", target):
                assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_the_reader_below_finds_code_outputs_and_marks():
    page = (
        "```python\nprint(1)\n```\n\n```text\n1\n```\nprose\n\n"
        f"{NOT_RUN}\n```python\nraise SystemExit\n```\n\n"
        "```python\n# continues\nprint(2)\n```\n"
        f"{NOT_COMPARED}\n```text\nwhatever\n```\n"
        "```sh\nmake demo\n```\nprose\n```text\nan orphan\n```\n")
    blocks = read_blocks(page)
    assert [(b.language, b.mark, b.output and b.output.code) for b in blocks] == [
        ("python", None, "1\n"), ("text", None, None), ("python", NOT_RUN, None),
        ("python", None, "whatever\n"), ("text", NOT_COMPARED, None), ("sh", None, None), ("text", None, None)]
    assert matches("loss 0.38...\n", "loss 0.3874555\n") and not matches("loss 0.38\n", "loss 0.39\n")


def test_a_page_whose_shown_output_is_stale_fails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "stale.md"
    page.write_text("```python\nprint(1 + 1)\n```\n\n```text\n3\n```\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="the block prints\n2\n"):
        check_page(page)
    page.write_text("```python\nimport warnings\nwarnings.warn('careful')\n```\n", encoding="utf-8")
    with pytest.raises(pytest.fail.Exception, match="printed a warning: UserWarning: careful"):
        check_page(page)
