"""A rolling restart of two workers while CDRs flow: each is stopped with SIGTERM (as a
deployment stops it), started again, and the next one follows once it is back.

The partitions of the stopping worker move to the other one mid-stream; batches cut
short by the stop are replayed there. Afterwards payroll's report equals the truth,
every reject is in the dead-letter topic, and the two workers' /metrics are disjoint
and together show ClickHouse's numbers for today (invariant 4).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.kpis import business_day
from schemas.settings import Settings
from simulator import SimulationSpec, produce
from streams.topics import ensure_topics
from tests.chaos.harness import (
    BackgroundProducer,
    Processes,
    chaos_line,
    today_from_clickhouse,
    wait_drained,
)
from tests.chaos.stopping import (
    missing_dead_letters,
    physical_rows,
    report_differences,
    signal_and_wait,
)
from tests.support.ports import free_ports
from tests.support.processes import Worker
from tests.support.scrape import rep_day_actuals
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


def spec(settings: Settings) -> SimulationSpec:
    return SimulationSpec(reps=24, calls=200_000, seed=4004, rate=800, live=True, bad=0.03,
                          duplicates=0.01, corrections=0.01, timezone=settings.timezone)  # fmt: skip


@pytest.mark.chaos_timeout(240)
def test_rolling_restart_of_two_workers_while_cdrs_flow(
    make_settings: Callable[..., Settings], procs: Processes, scenario_logs: Path
) -> None:
    settings = make_settings(partitions=8)
    ensure_topics(settings)
    ports = free_ports(2)
    workers = [
        procs.add(Worker(settings.model_copy(update={"web_port": port}), scenario_logs / f"worker-{i}.log"))
        for i, port in enumerate(ports)
    ]
    for worker in workers:
        worker.start()
    sender = BackgroundProducer(lambda stop: produce(spec(settings), settings, stop=stop))  # fmt: skip
    sender.start()
    procs.defer(sender.stop_event.set)

    stop_seconds = []
    for worker in workers:
        before = physical_rows(settings)
        wait_for(lambda b=before: physical_rows(settings) > b + 1_000, 90, "rows to flow")
        stop_seconds.append(signal_and_wait(worker, signal.SIGTERM))
        mark = len(worker.log())
        worker.start()
        wait_for(lambda w=worker, m=mark: "live state seeded" in w.log()[m:], 90,
                 "the restarted worker to take partitions again")  # fmt: skip

    sender.stop_event.set()
    truth = sender.outcome(timeout_s=60)
    wait_drained(settings, 150, workers)
    mismatched = report_differences(settings, truth)
    missing = missing_dead_letters(settings, truth)

    today = business_day(datetime.now(UTC), settings.zone).isoformat()
    in_clickhouse = today_from_clickhouse(settings, today)

    def settled() -> bool:
        a, b = (rep_day_actuals(port) for port in ports)
        return a is not None and b is not None and not set(a) & set(b) and {**a, **b} == in_clickhouse

    wait_for(settled, 60, "the two workers to show ClickHouse's numbers, each rep once")
    chaos_line("rolling_restart", events=truth.produced, faults="2xSIGTERM rolling", rejects=len(truth.bad),
               rejects_missing_from_dlq=missing, mismatched_rows=len(mismatched),
               slowest_stop_s=f"{max(stop_seconds):.1f}")  # fmt: skip
    assert mismatched == [], f"{len(mismatched)} (day, rep) rows differ, e.g. {mismatched[:3]}"
    assert missing == 0, f"{missing} of {len(truth.bad)} rejects are not in the dead-letter topic"
