# Two entry points: `make demo` (whole pipeline on the embedded stack) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install demo test unit integration lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/callfloor demo

test: install lint
	$(BIN)/pytest tests

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .callfloor .pytest_cache
