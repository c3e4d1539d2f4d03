# Two entry points: `make demo` (whole pipeline on the embedded stack) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# openssl: tests make throwaway CAs (secured Kafka: docs/ops/kafka-security.md; ClickHouse over HTTPS)
SYSTEM_TOOLS := prometheus promtool amtool chromium mariadbd mariadb-install-db bwrap openssl
SYSTEM_PACKAGES := prometheus prometheus-alertmanager chromium fonts-wqy-microhei mariadb-server \
                   bubblewrap libseccomp2 openssl

.PHONY: install system-deps demo test unit integration chaos attack lint docs screenshots clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,local]'
	touch $@

install: $(BIN)/.installed

# Debian's Prometheus (prometheus, promtool), Alertmanager (amtool) and Chromium (the wallboard's
# page tests), which the tests drive; a CJK font so the Chinese wallboard screenshot has glyphs;
# MariaDB (mariadbd, mariadb-install-db) for the dialer-database feeds' tests (docs/integrate/live-feeds.md).
# bubblewrap and libseccomp2 confine the embedded ClickHouse engine (docs/ops/engine-sandbox.md).
system-deps:
	@for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $(SYSTEM_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	fi

# The demo's ops loop runs Debian's Prometheus and Alertmanager (system-deps); if they cannot be
# installed the demo runs without them and says so.
demo: install
	-@$(MAKE) --no-print-directory system-deps
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

# mypy: strict on every package of the project ([tool.mypy] in pyproject.toml); its cache
# (.mypy_cache) makes a run after a small change take seconds.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# The documentation site, into site/ (open site/index.html). `make test` builds it strictly
# (tests/unit/test_docs.py): a broken link, a missing page or an unknown table fails the suite.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The pictures the README and the docs show, taken by the browser tests (real Chromium): the
# wallboard's, and a pay statement as `callfloor payroll run --format html` writes it.
screenshots: install system-deps
	CALLFLOOR_SCREENSHOT_DIR=docs/img $(BIN)/pytest tests/integration/test_wallboard_page.py -q
	CALLFLOOR_SCREENSHOT_DIR=docs/img $(BIN)/pytest tests/integration/test_payroll.py -q -k chromium

clean:
	rm -rf $(VENV) .callfloor .pytest_cache .mypy_cache site
