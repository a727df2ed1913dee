# Each target makes .venv on first use and reinstalls only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: test demo clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,examples]"
	touch $(INSTALLED)

test: $(INSTALLED)
	$(PY) -m pytest -q

demo: $(INSTALLED)
	$(PY) examples/quickstart.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
