# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= data/output
SOURCES ?= data/sources.yaml
export DAGSTER_HOME ?= $(CURDIR)/data/.dagster_home
# Browser tests drive Debian's Chromium: Playwright's own browser download cannot work here.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test dev lint clean install install-dev

run: $(VENV)/.installed
	@mkdir -p "$(DAGSTER_HOME)"
	$(BIN)/whiteglove run --sources $(SOURCES) --out $(OUT)

# One test worker per core, a test file per worker at a time (so a file's shared runs are made
# once): the suite is mostly whole-pipeline runs, each busy on one core at a time.
test: $(VENV)/.installed-dev $(CHROMIUM)
	$(BIN)/python -m pytest -n auto --dist loadfile

dev: $(VENV)/.installed
	@mkdir -p "$(DAGSTER_HOME)"
	$(BIN)/dagster dev -w workspace.yaml

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# `make bench`: at each of SIZES (total source records: 100k, 1M, 3M) the pipeline, a plain
# Splink script and (up to 1M) its tutorial-style variant each run in their own process
# (benchmarks/bench.py); at DELTA_SIZE a nightly delta (1% of the records appended to the
# support export, then 1% deleted: `--incremental` runs against full runs on the same data);
# at THREADS16_SIZE one run with 16 DuckDB threads. The accuracy part scores whiteglove and
# plain Splink on fake_1000, FEBRL4 and the bundled sample (benchmarks/accuracy.py).
# About 35-45 minutes on the 2-core machine (the 3M size about 10-15 of them, the delta about
# 8). `make bench SIZES="100000 1000000" DELTA_SIZE= THREADS16_SIZE= REPEAT=3` is the
# earlier, shorter bench; an empty DELTA_SIZE or THREADS16_SIZE leaves that part out.
SIZES ?= 100000 1000000 3000000
REPEAT ?= 1
DELTA_SIZE ?= 1000000
THREADS16_SIZE ?= 1000000
.PHONY: bench
bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench.py --sizes $(SIZES) --repeat $(REPEAT) \
		$(if $(DELTA_SIZE),--delta-size $(DELTA_SIZE)) \
		$(if $(THREADS16_SIZE),--threads16-size $(THREADS16_SIZE)) \
		--results benchmarks/RESULTS.md
	$(BIN)/python benchmarks/accuracy.py --results benchmarks/RESULTS.md

# Spark for the linking stage (tests/test_spark.py): pyspark (about 450 MB installed) and a
# Java runtime (Debian's, 17 or later) are set up only here, so `make test` stays light.
JAVA := $(or $(shell command -v java 2>/dev/null),/usr/bin/java)
.PHONY: test-spark
test-spark: $(VENV)/.installed-spark $(JAVA)
	$(BIN)/python -m pytest -m spark tests/test_spark.py

$(VENV)/.installed-spark: $(VENV)/.installed-dev
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,spark]"
	touch $@

$(JAVA):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq default-jre-headless >/dev/null

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

clean:
	rm -rf $(VENV) $(OUT) data/.dagster_home .pytest_cache
