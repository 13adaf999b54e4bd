# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= data/output
SOURCES ?= data/sources.yaml
export DAGSTER_HOME ?= $(CURDIR)/data/.dagster_home

.PHONY: run test dev lint clean install install-dev

run: $(VENV)/.installed
	@mkdir -p "$(DAGSTER_HOME)"
	$(BIN)/whiteglove run --sources $(SOURCES) --out $(OUT)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

dev: $(VENV)/.installed
	@mkdir -p "$(DAGSTER_HOME)"
	$(BIN)/dagster dev -w workspace.yaml

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

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

clean:
	rm -rf $(VENV) $(OUT) data/.dagster_home .pytest_cache
