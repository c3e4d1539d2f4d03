"""Scale-out: three workers on 12 partitions; a fourth joins and one leaves (SIGTERM) while
CDRs flow. Afterwards payroll's report equals the simulator's truth exactly, the three
remaining workers hold all 12 partitions between them (their /readyz says which), and
their /metrics export every rep once, with ClickHouse's values (invariants 1 and 4)."""

from __future__ import annotations

import signal
import time
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
    differences,
    keyed,
    stored_calls,
    today_from_clickhouse,
    wait_drained,
)
from tests.support.cli import report
from tests.support.health import held_partitions
from tests.support.ports import free_ports
from tests.support.processes import Worker
from tests.support.scrape import rep_day_actuals
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

PARTITIONS = 12
RATE = 200  # CDRs per second, for as long as the membership changes take


def holds_everything(workers: list[Worker]) -> bool:
    """Every worker ready, their seeded partitions disjoint and together all of them."""
    held = [held_partitions(w.web_port) for w in workers]
    if any(h is None or not h for h in held):
        return False
    together = [p for h in held for p in h or ()]
    return sorted(together) == list(range(PARTITIONS))


@pytest.mark.chaos_timeout(420)
def test_a_worker_added_and_one_removed_while_cdrs_flow(
    make_settings: Callable[..., Settings], procs: Processes, scenario_logs: Path
) -> None:
    settings = make_settings(partitions=PARTITIONS)
    ensure_topics(settings)
    spec = SimulationSpec(reps=36, calls=0, live=True, rate=RATE, seed=41, duplicates=0.02,
                          corrections=0.02, timezone=settings.timezone)  # fmt: skip
    sender = BackgroundProducer(lambda stop: produce(spec, settings,
                                                     stop=stop))  # fmt: skip
    procs.defer(sender.stop_event.set)
    ports = free_ports(4)
    a, b, c, d = (
        procs.add(Worker(settings.model_copy(update={"web_port": port}), scenario_logs / f"worker-{n}.log"))
        for n, port in zip("abcd", ports, strict=True)
    )
    sender.start()
    for worker in (a, b, c):
        worker.start()
    wait_for(lambda: holds_everything([a, b, c]), 180, "three workers to hold the 12 partitions")

    d.start()
    added_at = time.monotonic()
    wait_for(lambda: holds_everything([a, b, c, d]), 120, "the fourth worker to take its share")
    join_s = time.monotonic() - added_at
    flowing_at_add = sender.is_alive()

    removed_at = time.monotonic()
    b.stop()  # SIGTERM, as an orchestrator scales down (SIGKILL after the harness's 15 s)
    sigterm_exit_s = time.monotonic() - removed_at
    wait_for(lambda: holds_everything([a, c, d]), 120, "three workers to hold the 12 partitions again")
    leave_s = time.monotonic() - removed_at
    flowing_at_remove = sender.is_alive()
    time.sleep(3)  # CDRs keep coming to the settled group
    sender.stop_event.set()
    truth = sender.outcome(60)
    assert flowing_at_add and flowing_at_remove, "CDRs must flow while the membership changes"
    assert b.process is not None and b.process.returncode != -signal.SIGKILL, "SIGTERM was not enough"

    wait_drained(settings, 180, [a, c, d])
    expected = {(row["business_day"], row["rep_id"]): row for row in truth.calls.values()}
    days = sorted(day for day, _ in expected)
    got = keyed(report(settings, days[0], days[-1]))
    final, physical = stored_calls(settings)

    today = business_day(datetime.now(UTC), settings.zone).isoformat()
    in_clickhouse = today_from_clickhouse(settings, today)
    scrapes, overlaps = 0, []

    def exported_once() -> bool:
        nonlocal scrapes
        scraped = [rep_day_actuals(w.web_port) for w in (a, c, d)]
        if any(s is None for s in scraped):
            return False
        scrapes += 1
        reps = [set(s or ()) for s in scraped]
        overlaps.extend(sorted(reps[0] & reps[1] | reps[0] & reps[2] | reps[1] & reps[2]))
        merged = {rep: values for s in scraped for rep, values in (s or {}).items()}
        return not overlaps and merged == in_clickhouse

    wait_for(exported_once, 60, "every rep exported once, with ClickHouse's values")
    for _ in range(4):  # settled: every further scrape round is disjoint and complete too
        assert exported_once(), f"reps exported twice: {sorted(set(overlaps))}"
        time.sleep(0.5)

    chaos_line("scale_out", events=truth.produced, partitions=PARTITIONS, workers="3+1-1",
               join_s=f"{join_s:.1f}", sigterm_exit_s=f"{sigterm_exit_s:.1f}", exit_code=b.process.returncode,
               leave_s=f"{leave_s:.1f}", reps=len(in_clickhouse),
               scrape_rounds=scrapes, overlapping_reps=len(set(overlaps)),
               lost=max(0, truth.totals["call_ids"] - final),
               double=max(0, final - truth.totals["call_ids"]), replayed_rows=physical - final,
               mismatched_rows=len(differences(expected, got)))  # fmt: skip
    assert differences(expected, got) == []
    assert final == truth.totals["call_ids"]
