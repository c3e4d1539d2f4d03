"""Real services for integration and chaos tests, started by the suite itself on 127.0.0.1.

The broker (Tansu) and the embedded ClickHouse endpoint are shared by the whole session;
each test gets its own topic, consumer group and database, so tests cannot see each
other's data. Unit tests use none of these fixtures and start nothing.

Under pytest-xdist (``make test`` runs two workers) each worker process has its own
session: its own broker, ClickHouse, install directory and ports (tests/support/ports.py).
tests/support/scopes.py says which tests go together: all chaos scenarios on one worker,
one after another; every other module whole.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from deploy.local.broker import LocalBroker
from schemas.settings import Settings
from sinks.clickhouse.client import connect
from tests.support import summary
from tests.support.ports import free_port
from tests.support.processes import ClickHouseProcess
from tests.support.scopes import CHAOS, SuiteScheduling

_counter = itertools.count()


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` with this suite's units of work (tests/support/scopes.py)."""
    return SuiteScheduling(config, log) if config.getoption("dist") == "loadscope" else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In pytest-xdist's workers the chaos scenarios come first, so the longest unit of
    work is handed out first."""
    if os.environ.get("PYTEST_XDIST_WORKER"):  # set by pytest-xdist in its workers
        items.sort(key=lambda item: not item.nodeid.startswith(CHAOS))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    summary.collect(report)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    summary.write(terminalreporter)


@pytest.fixture(scope="session", autouse=True)
def _install_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One CALLFLOOR_DATA_DIR for the session, as one install: the embedded endpoints the
    suite starts write their per-install token there, and every Settings() reads it."""
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("install")
        patch.setenv("CALLFLOOR_DATA_DIR", str(home))
        yield home


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def broker(logs_dir: Path) -> Iterator[LocalBroker]:
    local = LocalBroker(port=free_port(), log_path=logs_dir / "broker.log")
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def clickhouse(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[ClickHouseProcess]:
    server = ClickHouseProcess(tmp_path_factory.mktemp("chdata"), logs_dir / "clickhouse.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(broker: LocalBroker, clickhouse: ClickHouseProcess) -> Settings:
    """Settings naming a topic, group and database of this test's own."""
    n = next(_counter)
    return Settings(
        kafka_bootstrap=broker.bootstrap,
        clickhouse_url=clickhouse.url,
        cdr_topic=f"cdr.t{n}",
        snapshot_topic=f"snapshots.t{n}",
        app_id=f"callfloor-t{n}",
        clickhouse_database=f"callfloor_t{n}",
        partitions=4,
        web_port=free_port(),
        refresh_seconds=1.0,
        targets_reload_seconds=0.5,
    )


@pytest.fixture
def worker_log(logs_dir: Path, request: pytest.FixtureRequest) -> Path:
    return logs_dir / f"worker-{request.node.name}.log"


@pytest.fixture
def ch_client(settings: Settings) -> Iterator[Client]:
    client = connect(settings, database="")
    yield client
    client.close()
