# Each target makes .venv on first use and reinstalls only when pyproject.toml changes.
# `make demo` installs the engine and matplotlib only; `make test` adds the test and example extras.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check --progress-bar off
DEMO_INSTALLED := $(VENV)/.demo-installed
INSTALLED := $(VENV)/.installed

.PHONY: test demo bench bench-quick profile docs explain browser clean

$(PY):
	@echo "== Creating the virtual environment $(VENV) with $(PYTHON) -m venv"
	$(PYTHON) -m venv $(VENV)
	@echo "== Checking that pip can install in editable mode (21.3 or newer; venv's own pip usually is)"
	$(PIP) "pip>=21.3"

$(DEMO_INSTALLED): pyproject.toml | $(PY)
	@echo "== Installing tinygrad_edu (editable) with NumPy, graphviz and matplotlib: what the demo needs"
	$(PIP) -e ".[demo]"
	touch $@

$(INSTALLED): pyproject.toml | $(PY)
	@echo "== Installing tinygrad_edu (editable) with the test and example extras: pytest, Hypothesis, playwright, scikit-learn"
	$(PIP) -e ".[test,examples]"
	touch $@

test: $(INSTALLED) browser
	$(PY) -m pytest -q

# The article's network (2-3-2 sigmoid, no biases) on the article's data, its explorer page, then the
# network with biases (8 hidden units), which fits XOR: figures and loss graphs with W2's path
# highlighted, all in out/ (see examples/demo.py).
demo: $(DEMO_INSTALLED)
	$(PY) examples/demo.py --out out

# Engine against hand-written NumPy (and PyTorch when installed); a few minutes, or under a minute quick.
bench: $(INSTALLED)
	$(PY) -m benchmarks

bench-quick: $(INSTALLED)
	$(PY) -m benchmarks --quick

# Where each workload's step time goes: the ops' own NumPy code, the cyclic gc, the engine's bookkeeping.
profile: $(INSTALLED)
	$(PY) -m benchmarks.profile

# The README's pictures, made by the code as it stands (the screenshot needs the browser).
docs: $(INSTALLED) browser
	$(PY) examples/draw_graph.py docs/article_graph.svg
	EXPLORER_SCREENSHOT=docs/explorer.png $(PY) -m pytest -q tests/test_explorer.py -k chromium

# The backprop explorer page for the article's worked example: out/worked_example.html.
explain: $(DEMO_INSTALLED)
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
