# newsrag: setup, run, test, benchmark. Everything the project needs is installed from here.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-fast bench model browser screenshot clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first and pinned: an unpinned torch pulled in by a dependency is a multi-GB CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

model: setup
	$(BIN)/newsrag model pull

browser: setup
	bash scripts/install-browser.sh

# Main job: ingest the shipped seed articles, then serve the chat on 127.0.0.1.
run: model
	$(BIN)/newsrag ingest seeds/
	$(BIN)/newsrag serve --host 127.0.0.1

test: model browser
	$(BIN)/python -m pytest -q tests

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow" tests

# Refresh the README's picture (docs/chat.png) from the browser test; the test suite itself never writes it.
screenshot: model browser
	NEWSRAG_REFRESH_SCREENSHOT=1 $(BIN)/python -m pytest -q tests/test_ui_browser.py -k rhodes

bench: model
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) .newsrag
