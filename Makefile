# joinedup — the two front-door commands are `make demo` and `make test`.
# Everything is bootstrapped here from a fresh clone: a tools venv with uv, the project venv from uv.lock,
# and the Kafka jars from Maven Central (cached under .joinedup/).

PYTHON ?= python3.11
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
JOINEDUP := $(BIN)/joinedup
PACKAGES := joinedup.contract joinedup.referral joinedup.consent joinedup.projections joinedup.local
SRC := schemas/src services/referral/src services/consent/src services/projections/src deploy/local/src
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: help bootstrap jars lint typecheck imports schemas-check unit pytest test demo bench reliability clean

help:
	@echo "make demo   run the whole system locally and show what it does (DEMO_ARGS=--once to exit)"
	@echo "make test   lint, type-check, import contracts, schema evolution check, then every test"
	@echo "make bench  run the benchmarks and append figures to docs/benchmarks.md"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml schemas/pyproject.toml services/*/pyproject.toml deploy/local/pyproject.toml
	$(UV) sync --frozen --all-packages --compile-bytecode --python $(PYTHON)
	@# Byte-compile our own sources too: with PYTHONDONTWRITEBYTECODE set (as on this machine) every process
	@# would otherwise recompile every module at start (seconds of CPU per worker, API and test subprocess).
	$(BIN)/python -m compileall -q $(SRC) bench tests
	@touch $@

bootstrap: $(VENV)/.synced

jars: bootstrap
	$(JOINEDUP) broker fetch

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: bootstrap
	$(BIN)/mypy $(foreach p,$(PACKAGES),-p $(p))
	$(BIN)/mypy tests/reliability bench/__main__.py
	MYPYPATH=bench $(BIN)/mypy $(filter-out bench/__init__.py bench/__main__.py,$(wildcard bench/*.py)) bench/pg_reference bench/figures

imports: bootstrap
	$(BIN)/lint-imports

schemas-check: bootstrap
	$(JOINEDUP) schemas check

# pytest exits 5 when it collects nothing: that is a failure here too (a suite that runs nothing proves nothing).
# The slow reliability scenarios run in `make reliability`; their fast subset runs here.
pytest: bootstrap jars
	$(BIN)/pytest -m "not (reliability and slow)" $(PYTEST_ARGS)

unit: bootstrap
	$(BIN)/pytest -m "not broker" $(PYTEST_ARGS)

test: lint typecheck imports schemas-check pytest

demo: bootstrap jars
	$(JOINEDUP) demo $(DEMO_ARGS)

bench: bootstrap jars
	$(BIN)/python -m bench $(BENCH_ARGS)

reliability: bootstrap jars
	$(BIN)/pytest tests/reliability -m "reliability" $(PYTEST_ARGS)

clean:
	-$(JOINEDUP) broker stop
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
