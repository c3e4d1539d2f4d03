"""Stopping a worker the ordinary way while ClickHouse is away (issue 10's reproduction).

One worker on 8 partitions fed at about 800 CDR/s (with rejects, duplicates and
corrections); ClickHouse stopped; CDRs keep arriving while it is away and the worker
retries its writes; then the worker is stopped with SIGTERM (as systemd and Kubernetes
stop it) or SIGINT (Ctrl-C) while those writes retry; ClickHouse and the worker are
started again. Faust cancels the agent before the consumer commits: no offset of the
batch being retried may be committed. Afterwards payroll's report equals the truth and
every reject is in the dead-letter topic; each stop took at most STOP_BOUND_S.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from schemas.settings import Settings
from simulator import SimulationSpec, produce
from streams.topics import ensure_topics
from tests.chaos.harness import (
    BackgroundProducer,
    Processes,
    chaos_line,
    wait_drained,
)
from tests.chaos.stopping import (
    missing_dead_letters,
    physical_rows,
    report_differences,
    signal_and_wait,
    wait_retrying_writes,
)
from tests.support.processes import ClickHouseProcess, Worker
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

RATE = 800
AWAY_S = 2.5  # about 2,000 CDRs produced while ClickHouse is away


def spec(seed: int) -> SimulationSpec:
    return SimulationSpec(reps=40, calls=200_000, days=1, seed=seed, rate=RATE, bad=0.03,
                          duplicates=0.01, corrections=0.01)  # fmt: skip


@pytest.mark.chaos_timeout(240)
@pytest.mark.parametrize(
    ("signum", "stops"), [(signal.SIGTERM, 3), (signal.SIGINT, 1)], ids=["sigterm", "sigint"]
)
def test_stop_while_clickhouse_is_away_loses_nothing(
    signum: signal.Signals, stops: int,
    make_settings: Callable[..., Settings], procs: Processes, scenario_logs: Path, tmp_path: Path,
) -> None:  # fmt: skip
    server = procs.add(ClickHouseProcess(tmp_path / "chdata", scenario_logs / "clickhouse.log"))
    server.start()
    settings = make_settings(clickhouse_url=server.url, partitions=8)
    ensure_topics(settings)
    worker = procs.add(Worker(settings, scenario_logs / "worker.log")).start()
    sender = BackgroundProducer(
        lambda stop: produce(spec(int(signum)), settings, stop=stop)
    )
    sender.start()
    procs.defer(sender.stop_event.set)

    stop_seconds: list[float] = []
    for _ in range(stops):
        before = physical_rows(settings)
        wait_for(lambda b=before: physical_rows(settings) > b + 500, 90, "the worker to write rows")
        log_mark = len(worker.log())
        server.stop()
        wait_retrying_writes(worker, log_mark)
        time.sleep(AWAY_S)
        stop_seconds.append(signal_and_wait(worker, signum))
        server.start()
        worker.start()

    sender.stop_event.set()
    truth = sender.outcome(timeout_s=60)
    wait_drained(settings, 150, [worker])

    mismatched = report_differences(settings, truth)
    missing = missing_dead_letters(settings, truth)
    chaos_line(f"stop_{signum.name.lower()}_during_outage", events=truth.produced,
               faults=f"{stops}x{signum.name} while ClickHouse away", rejects=len(truth.bad),
               rejects_missing_from_dlq=missing, mismatched_rows=len(mismatched),
               slowest_stop_s=f"{max(stop_seconds):.1f}")  # fmt: skip
    assert mismatched == [], f"{len(mismatched)} (day, rep) rows differ, e.g. {mismatched[:3]}"
    assert missing == 0, f"{missing} of {len(truth.bad)} rejects are not in the dead-letter topic"
