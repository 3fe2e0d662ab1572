# MineSafe: two commands on a fresh machine.
#   make run   - install, migrate, seed the demo city if empty, serve on http://127.0.0.1:8000
#   make test  - install what the tests need, run ruff and the whole suite (SQLite, then PostgreSQL)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench demo clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/minesafe run

test: $(STAMP)
	scripts/ensure-tool chromium chromium fonts-noto-cjk
	scripts/ensure-tool mosquitto mosquitto
	$(BIN)/ruff check .
	scripts/test-all

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	scripts/bench-all

clean:
	rm -rf $(VENV) var/ .pytest_cache
