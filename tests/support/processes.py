"""Child processes a test or benchmark starts: the embedded ClickHouse and callfloor workers,
started as a user starts them (the ``callfloor`` CLI, configured by ``CALLFLOOR_*`` variables)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from deploy.local.broker import wait_for_port
from deploy.local.processes import callfloor_command, spawn, stop
from schemas.settings import Settings
from sinks.clickhouse import schema_version
from tests.support.ports import free_port
from tests.support.scrape import lag_partitions, metrics_text

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)


def rss_bytes(pid: int) -> int:
    """Resident set size now (VmRSS)."""
    return int(_proc_status(pid)["VmRSS"].split()[0]) * 1024


def peak_rss_bytes(pid: int) -> int:
    """Highest resident set size since the process started (VmHWM, kept by the kernel)."""
    return int(_proc_status(pid)["VmHWM"].split()[0]) * 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_tree(root: int) -> set[int]:
    """``root`` and every process below it (children, grandchildren...)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    tree, grew = {root}, True
    while grew:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    return tree


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and every process below it (the embedded ClickHouse's engine
    runs in a child process; Chromium in many)."""
    total = 0.0
    for pid in process_tree(root):
        try:
            total += cpu_seconds(pid)
        except OSError:
            continue
    return total


class ClickHouseProcess:
    """``callfloor clickhouse`` in a child process; can be stopped and restarted on its data."""

    def __init__(
        self, path: Path, log_path: Path, *, port: int | None = None,
        env: Mapping[str, str] | None = None, delay_ms: int = 0,
    ) -> None:  # fmt: skip
        self.path, self.log_path = path, log_path
        self.port = port or free_port()
        self.env = dict(env or {})
        self.delay_ms = delay_ms
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        args = ["--port", str(self.port), "--path", str(self.path)]
        if self.delay_ms:
            args += ["--delay-ms", str(self.delay_ms)]
        return callfloor_command("clickhouse", *args)

    def start(self) -> None:
        self.process = spawn(self.argv(), self.env, self.log_path)
        wait_for_port("127.0.0.1", self.port, 60, "embedded ClickHouse")

    def stop(self) -> None:
        stop(self.process)


class Worker:
    """One ``callfloor worker`` (or another agent's ``argv``) child process: started, signalled,
    killed, restarted and measured the way production and benchmarks need."""

    def __init__(
        self, settings: Settings, log_path: Path, *, argv: list[str] | None = None,
        env: Mapping[str, str] | None = None, name: str = "worker", migrate: bool = True,
    ) -> None:  # fmt: skip
        self.settings, self.log_path, self.name = settings, log_path, name
        self.migrate = migrate  # run `callfloor migrate`'s step before the first start, as a deployment does
        self.argv = argv or callfloor_command("worker")
        self.env = {**settings.to_env(), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.started = 0.0  # monotonic time of the last start

    @property
    def web_port(self) -> int:
        return self.settings.web_port

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def start(self) -> Worker:
        if self.migrate and self.starts == 0:  # a no-op when the schema is current
            schema_version.migrate(self.settings)
        self.process = spawn(self.argv, self.env, self.log_path)
        self.starts += 1
        self.started = time.monotonic()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            code = self.process.returncode if self.process else None
            raise RuntimeError(f"{self.name} exited with {code}; log: {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit, no flush."""
        if self.alive():
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM, as systemd and Kubernetes stop it; SIGKILL if it does not leave in time."""
        stop(self.process)

    def rss_bytes(self) -> int:
        return rss_bytes(self.pid)

    def peak_rss_bytes(self) -> int:
        return peak_rss_bytes(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def seeded(self) -> bool:
        """The worker has been assigned partitions and seeded their live state."""
        return "live state seeded" in self.log()

    def metrics(self) -> str | None:
        return metrics_text(self.web_port)

    def assigned_partitions(self) -> set[int]:
        return lag_partitions(self.web_port)


@contextmanager
def running_worker(settings: Settings, log_path: Path, *, migrate: bool = True) -> Iterator[Worker]:
    """``callfloor worker`` as a user runs it (after ``callfloor migrate`` unless ``migrate`` is
    false), stopped with SIGTERM at the end."""
    worker = Worker(settings, log_path, migrate=migrate).start()
    try:
        yield worker
    finally:
        worker.stop()
