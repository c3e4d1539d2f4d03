"""Real services for integration tests, started by the suite itself on 127.0.0.1.

The broker (Tansu) and the embedded ClickHouse endpoint are shared by the whole
session; each test gets its own topic, consumer group and database, so tests
cannot see each other's data.
"""

from __future__ import annotations

import itertools
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from deploy.broker import LocalBroker, wait_for_port
from deploy.processes import callfloor_command, spawn, stop
from schemas.settings import Settings
from sinks.clickhouse.client import connect

_counter = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def broker(logs_dir: Path) -> Iterator[LocalBroker]:
    local = LocalBroker(port=free_port(), log_path=logs_dir / "broker.log")
    local.start()
    yield local
    local.stop()


class ClickHouseProcess:
    """``callfloor clickhouse`` in a child process; can be stopped and restarted on its data."""

    def __init__(self, path: Path, log_path: Path) -> None:
        self.path, self.log_path, self.port = path, log_path, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = callfloor_command("clickhouse", "--port", str(self.port), "--path", str(self.path))
        self.process = spawn(argv, {}, self.log_path)
        wait_for_port("127.0.0.1", self.port, 60, "embedded ClickHouse")

    def stop(self) -> None:
        stop(self.process)


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
        app_id=f"callfloor-t{n}",
        clickhouse_database=f"callfloor_t{n}",
        partitions=4,
        web_port=free_port(),
        refresh_seconds=1.0,
        targets_reload_seconds=0.5,
    )


@contextmanager
def running_worker(settings: Settings, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``callfloor worker`` as a user runs it: a child process configured by CALLFLOOR_* vars."""
    process = spawn(callfloor_command("worker"), settings.to_env(), log_path)
    try:
        yield process
    finally:
        stop(process)


@pytest.fixture
def worker_log(logs_dir: Path, request: pytest.FixtureRequest) -> Path:
    return logs_dir / f"worker-{request.node.name}.log"


@pytest.fixture
def ch_client(settings: Settings):  # noqa: ANN201 - clickhouse_connect Client
    client = connect(settings, database="")
    yield client
    client.close()
