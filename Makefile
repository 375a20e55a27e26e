PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo serve test lint schema clean

$(BIN)/conduit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

## Install into .venv and start Conduit on its embedded default, with sample data.
demo: $(BIN)/conduit
	$(BIN)/conduit demo

serve: $(BIN)/conduit
	$(BIN)/conduit serve

## Install into .venv and run every check: lint, types, the whole test suite (SQLite and PostgreSQL).
test: $(BIN)/conduit
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy conduit
	$(BIN)/lint-imports
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: $(BIN)/conduit
	$(BIN)/ruff check .
	$(BIN)/mypy conduit
	$(BIN)/lint-imports

schema: $(BIN)/conduit
	$(BIN)/conduit export-schema -o schema.graphql

clean:
	rm -rf $(VENV) .conduit .pytest_cache .mypy_cache .ruff_cache
