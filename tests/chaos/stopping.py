"""What the stop scenarios share: stopping a worker the way systemd, Kubernetes and Ctrl-C
do, and checking the run against the simulator's truth (report rows and dead letters)."""

from __future__ import annotations

import base64
import signal
import subprocess
import time
from collections import Counter

from schemas.settings import Settings
from simulator import Truth
from tests.chaos.harness import (
    differences,
    keyed,
    stored_calls,
)
from tests.support.cli import report
from tests.support.kafka import read_topic
from tests.support.processes import Worker
from tests.support.waiting import wait_for

# docs/develop/guarantees.md: a worker asked to stop exits within this bound, even while ClickHouse
# is away; the batch it was retrying is replayed by whoever holds the partition next.
STOP_BOUND_S = 30.0


def physical_rows(settings: Settings) -> int:
    try:
        return stored_calls(settings)[1]
    except Exception:  # noqa: BLE001 - table not created yet, or ClickHouse away
        return 0


def signal_and_wait(worker: Worker, signum: signal.Signals) -> float:
    """Send ``signum`` and wait for the worker to leave; seconds it took. Fails (after a
    SIGKILL, so the scenario can clean up) when it takes longer than STOP_BOUND_S."""
    assert worker.process is not None and worker.alive(), f"worker not running; log {worker.log_path}"
    started = time.monotonic()
    worker.process.send_signal(signum)
    try:
        worker.process.wait(timeout=STOP_BOUND_S)
    except subprocess.TimeoutExpired:
        worker.kill()
        raise AssertionError(
            f"worker still running {STOP_BOUND_S:.0f}s after {signum.name}; log {worker.log_path}"
        ) from None
    return time.monotonic() - started


def wait_retrying_writes(worker: Worker, log_mark: int, timeout_s: float = 60.0) -> None:
    """Until the worker's log, after ``log_mark``, shows a ClickHouse write being retried."""
    wait_for(lambda: "ClickHouse write of" in worker.log()[log_mark:], timeout_s,
             "the worker to retry a ClickHouse write")  # fmt: skip


def missing_dead_letters(settings: Settings, truth: Truth) -> int:
    """Rejects of the truth that are not in the dead-letter topic (copies may repeat there)."""
    wanted = Counter(base64.b64decode(bad["value_b64"]) for bad in truth.bad)
    held = Counter(record.value for record in read_topic(settings.kafka_bootstrap, settings.dlq_topic))
    return sum(max(0, n - held[value]) for value, n in wanted.items())


def report_differences(settings: Settings, truth: Truth) -> list[str]:
    days = sorted({row["business_day"] for row in truth.calls.values()})
    return differences(keyed(truth.calls.values()), keyed(report(settings, days[0], days[-1])))
