# Every target refreshes .venv first, so a fresh clone needs only Python 3.11+, make and a C compiler.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Apache Kafka for the tests and the benchmark: jars fetched once by scripts/fetch-kafka.
export KSYNC_KAFKA_LIBS := $(CURDIR)/.cache/kafka/libs

.PHONY: demo test test-fast kafka system bench bench-control bench-compare lint venv lock clean

# Installs exactly the versions in the lock, each checked against its hash; then ksync
# itself without touching them (setuptools comes from the lock: no build isolation).
LOCK := requirements/lock.txt
$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

# Refresh the lock on purpose (never as a side effect of another target): the newest
# versions pyproject.toml allows, with the dev extra, for CPython 3.11 on Linux x86_64.
UV_VERSION := 0.13.8
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra dev --generate-hashes \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
		--custom-compile-command "make lock" --upgrade --quiet -o $(LOCK)

demo: $(STAMP)
	$(BIN)/ksync demo

# Chromium, PostgreSQL, Java and Maven from apt where missing (needs root or sudo).
system:
	bash scripts/ensure-test-system

kafka:
	bash scripts/fetch-kafka >/dev/null

# Three test processes, each with its own pair of Kafka clusters: most of the suite waits
# on brokers and servers, so three overlap the waits on two cores (15 min in one process,
# 9.3 in two, 7.2 in three on the 2-core development machine). A file stays in one process
# (its module fixtures are shared). TEST_WORKERS=0 runs everything in this process.
# The slowest steps are listed at the end: where the suite's time goes, run after run.
TEST_WORKERS ?= 3
test: $(STAMP) system kafka
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --durations=25 $(PYTEST_ARGS)

# The tests that need no broker, database or browser: validation, mapping, pure rules.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not kafka and not postgres and not browser and not demo" $(PYTEST_ARGS)

bench: $(STAMP) kafka
	bash scripts/fetch-kafka --mirror >/dev/null
	bash scripts/fetch-kafka --tools >/dev/null
	$(BIN)/python benchmarks/sync_throughput.py --far

# The control plane under load: 500 small tasks on one server, and one task of 2,000
# partitions (BENCH_CONTROL_ARGS="--tasks 100 --skip-wide" for a short run).
bench-control: $(STAMP) kafka
	$(BIN)/python benchmarks/control_plane.py $(BENCH_CONTROL_ARGS)

# Before/after an optimisation, in one run: make bench-compare BASE=HEAD~1
bench-compare: $(STAMP) kafka
	$(BIN)/python benchmarks/compare_revisions.py --base $(or $(BASE),HEAD)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) ksync-data build *.egg-info .cache
