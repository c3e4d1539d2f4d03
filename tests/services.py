"""Starting and waiting for the real services in tests: ports, child processes, polling.

Plain functions and classes, so integration tests, chaos scenarios and benchmarks can use
them; the pytest fixtures built on them live in ``tests/conftest.py``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.local.broker import wait_for_port
from deploy.local.processes import callfloor_command, free_port, spawn, stop
from schemas.settings import Settings
from simulator.model import daytime_zone


def in_daytime_zone(settings: Settings) -> Settings:
    """``settings`` in :func:`daytime_zone` (validated afresh: ``zone`` is cached)."""
    values = {name: getattr(settings, name) for name in type(settings).model_fields}
    return type(settings)(**{**values, "timezone": daytime_zone()})


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


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


@contextmanager
def running_worker(settings: Settings, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``callfloor worker`` as a user runs it: a child process configured by CALLFLOOR_* vars."""
    process = spawn(callfloor_command("worker"), settings.to_env(), log_path)
    try:
        yield process
    finally:
        stop(process)
