# Two entry points: `make demo` (whole pipeline on the embedded stack) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# openssl: tests/integration/test_clickhouse_https.py makes a CA and a server certificate
SYSTEM_TOOLS := prometheus promtool amtool chromium openssl
SYSTEM_PACKAGES := prometheus prometheus-alertmanager chromium fonts-wqy-microhei openssl

.PHONY: install system-deps demo test unit integration chaos attack lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,local]'
	touch $@

install: $(BIN)/.installed

# Debian's Prometheus (prometheus, promtool), Alertmanager (amtool) and Chromium (the wallboard's
# page tests), which the tests drive; a CJK font so the Chinese wallboard screenshot has glyphs.
system-deps:
	@for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $(SYSTEM_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	fi

demo: install
	$(BIN)/callfloor demo

# Two pytest-xdist workers: the chaos scenarios run one after another on one of them while
# the unit, attack and integration modules fill the other (units of work: tests/support/scopes.py).
TEST_WORKERS ?= 2

test: install system-deps lint
	$(BIN)/pytest tests -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

unit: install
	$(BIN)/pytest tests/unit

integration: install system-deps
	$(BIN)/pytest tests/integration

chaos: install system-deps
	$(BIN)/pytest tests/chaos

attack: install
	$(BIN)/pytest tests/attack

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .callfloor .pytest_cache
