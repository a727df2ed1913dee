"""The engine's machinery stays small enough to read in one sitting: at most 350 lines of code.

Counted in the files that define Tensor, Function and the backward walk, without docstrings,
comments or blank lines, and without the one-statement methods that only call an op or a
factory (a factory or op method is one line of real work however it is spelled).
"""
import ast
import io
import pathlib
import tokenize

ENGINE = pathlib.Path(__file__).resolve().parent.parent / "tinygrad_edu"
MACHINERY = ["tensor.py"]  # Tensor, Function and the walk; per-thread settings live in context.py
BUDGET = 350


def _docstring_lines(tree):
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def _forwarding_method_lines(tree):
    """Lines of methods whose whole body (after the docstring) is `return SomeCall(...)`."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            if len(body) == 1 and isinstance(body[0], ast.Return) and isinstance(body[0].value, ast.Call):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                lines.update(range(start, node.end_lineno + 1))
    return lines


def lines_of_code(source):
    tree = ast.parse(source)
    skipped = _docstring_lines(tree) | _forwarding_method_lines(tree)
    code = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                              tokenize.ENDMARKER):
            code.update(line for line in range(token.start[0], token.end[0] + 1) if line not in skipped)
    return len(code)


def machinery_lines():
    return {name: lines_of_code((ENGINE / name).read_text(encoding="utf-8")) for name in MACHINERY}


def test_the_engine_machinery_fits_in_350_lines_of_code():
    counts = machinery_lines()
    assert sum(counts.values()) <= BUDGET, f"{counts}: {sum(counts.values())} lines of code, budget {BUDGET}"


def test_the_counter_skips_docstrings_comments_and_forwarding_methods():
    source = '''"""Module doc."""
class A:
    """Class doc."""

    def f(self):
        """One line."""
        return g(self)   # forwarding: not counted

    def h(self, x):
        # a comment
        y = x + 1
        return y
'''
    assert lines_of_code(source) == 4  # class A, def h, y = ..., return y


if __name__ == "__main__":
    counts = machinery_lines()
    print(counts, "total", sum(counts.values()), "of", BUDGET)
