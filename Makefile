# Each target makes .venv on first use and reinstalls only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: test demo bench bench-quick profile docs explain browser clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,examples]"
	touch $(INSTALLED)

test: $(INSTALLED) browser
	$(PY) -m pytest -q

# The article's network, with biases so it can fit XOR (see xor.py --help): progress, a figure,
# the loss's graph with W2's path highlighted, and the backprop explorer page, all in out/.
demo: $(INSTALLED)
	$(PY) examples/xor.py --bias --hidden 8 --lr 2 --steps 3000 --out out/ --explain out/

# Engine against hand-written NumPy, eagerly and through tinygrad_edu.jit (and PyTorch when installed):
# a row per engine and workload, every round in benchmarks/results.json; a few minutes, or about a minute quick.
bench: $(INSTALLED)
	$(PY) -m benchmarks

bench-quick: $(INSTALLED)
	$(PY) -m benchmarks --quick

# Where each workload's step time goes: the ops' own NumPy code, the cyclic gc, the engine's bookkeeping;
# and for jit, its NumPy calls per step against the floor's, its program's time and the rest.
profile: $(INSTALLED)
	$(PY) -m benchmarks.profile

# The README's pictures, made by the code as it stands (the screenshot needs the browser).
docs: $(INSTALLED) browser
	$(PY) examples/draw_graph.py docs/article_graph.svg
	EXPLORER_SCREENSHOT=docs/explorer.png $(PY) -m pytest -q tests/test_explorer.py -k chromium

# The backprop explorer page for the article's worked example.
explain: $(INSTALLED)
	$(PY) examples/explain.py out/

# Debian's Chromium for the explorer's browser test: installed only as root under CI;
# elsewhere that one test is skipped and says why.
browser:
	@if command -v chromium >/dev/null; then echo "chromium: present"; \
	elif [ "$$(id -u)" = 0 ] && [ -n "$$CI" ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else echo "no chromium: the browser test will be skipped (as root: apt-get install chromium)"; fi

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info out
