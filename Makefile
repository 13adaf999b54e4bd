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

# `make bench SIZES="100000 1000000" REPEAT=3`: sizes are total source records; the pipeline
# and a plain Splink script each run in their own process (benchmarks/bench.py). The accuracy
# part scores both on fake_1000, FEBRL4 and the bundled sample (benchmarks/accuracy.py).
SIZES ?= 100000 1000000
REPEAT ?= 1
.PHONY: bench
bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench.py --sizes $(SIZES) --repeat $(REPEAT) \
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
