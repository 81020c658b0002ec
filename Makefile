# One entry point for people and CI. Every target installs what it needs first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: install demo test lint bench bench-accuracy bench-hierarchy bench-gaps bench-scale stress clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

## demo: install, generate synthetic sales, forecast every brand into warehouse/forecast.duckdb
demo: install
	$(BIN)/forecast demo

## lint: formatting, lint, types and import contracts
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## test: install, lint, then the whole test suite with coverage
test: lint
	$(BIN)/pytest --cov --cov-report=term

## bench: pooled priors vs no pooling vs full pooling (writes bench/out/, see bench/RESULTS.md)
bench: install
	$(BIN)/python bench/run.py

## bench-accuracy: product vs bare statsforecast on the synthetic group and real datasets
## (writes bench/out/accuracy.json and accuracy.md; QUICK=1 for a ~15-minute subset)
bench-accuracy: install
	$(BIN)/python bench/accuracy.py $(if $(QUICK),--quick,)

## bench-gaps: missing weeks, returns and spikes on synthetic exports whose truth is known
bench-gaps: install
	$(BIN)/python bench/gaps.py

## bench-hierarchy: reconciliation by level — Australian tourism beside its published table, synthetic group
bench-hierarchy: install
	$(BIN)/python bench/hierarchy.py

## bench-scale: `forecast run` vs same-work bare statsforecast at ~10k and ~100k series
## (wall, CPU, peak RSS of each process tree; writes bench/out/scale.json and scale.md)
bench-scale: install
	$(BIN)/python bench/scale.py

## stress: concurrent, repeated and killed runs while an analyst reads (see bench/stress.py)
stress: install
	$(BIN)/python bench/stress.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .prefect warehouse/.prefect warehouse/*.duckdb*
