"""Real services for integration and chaos tests, started by the suite itself on 127.0.0.1.

The broker (Tansu) and the embedded ClickHouse endpoint are shared by the whole session;
each test gets its own topic, consumer group and database, so tests cannot see each
other's data. Unit tests use none of these fixtures and start nothing.

Under pytest-xdist (``make test`` runs two workers) each worker process has its own
session: its own broker, ClickHouse, install directory and ports (tests/support/ports.py).
The chaos scenarios form one group that a single worker runs one after another, so no
two fault injections ever share the machine; every other module is a group of its own,
so its module-scoped fixtures start once (the benchmark smoke runs, which share nothing,
go test by test).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from deploy.local.broker import LocalBroker
from schemas.settings import Settings
from sinks.clickhouse.client import connect
from tests.support import summary
from tests.support.ports import free_port
from tests.support.processes import ClickHouseProcess

_counter = itertools.count()


# Modules whose tests share no module-scoped fixture and each take long: spread test by test.
_SPREAD_BY_TEST = ("tests/integration/test_benchmark_smoke.py",)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """pytest-xdist groups (see the module docstring); under xdist the chaos group is
    listed first, so the longest unit of work starts at once and the rest packs around it."""
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        chaos = item.get_closest_marker("chaos") is not None
        group = "chaos" if chaos else item.nodeid if module in _SPREAD_BY_TEST else module
        item.add_marker(pytest.mark.xdist_group(group))
    if os.environ.get("PYTEST_XDIST_WORKER"):  # set by pytest-xdist in its workers
        items.sort(key=lambda item: item.get_closest_marker("chaos") is None)


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
