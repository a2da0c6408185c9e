# Every target bootstraps its own virtualenv, so a fresh machine needs only
# Python 3.11 and pip.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint proto bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m examples.demo

# The browser-peer tests need Debian's Chromium; the script installs it once (root).
test: $(STAMP) lint
	sh tools/ensure_chromium.sh
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .

proto: $(STAMP)
	$(PY) tools/gen_proto.py

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
