# Every target refreshes .venv first, so a fresh clone needs only Python 3.11+, make and a C compiler.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-compare lint venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/ksync demo

test: $(STAMP)
	bash scripts/ensure-chromium
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/sync_throughput.py

# Before/after an optimisation, in one run: make bench-compare BASE=HEAD~1
bench-compare: $(STAMP)
	$(BIN)/python benchmarks/compare_revisions.py --base $(or $(BASE),HEAD)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) ksync-data build *.egg-info
