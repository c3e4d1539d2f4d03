"""Scenario 3: two workers share the group; one is SIGKILLed and the survivor takes over.

While both are alive, their /metrics rep sets are disjoint (invariant 4: after a rebalance
no rep is reported by two workers) and together cover every rep ClickHouse has for today,
with ClickHouse's values. After the kill, more traffic arrives; the survivor exports every
rep with today's values equal to ClickHouse's, and payroll's report equals the truth.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.kpis import KPI_COUNTERS, business_day
from schemas.settings import Settings
from simulator import SimulationSpec, Truth, produce
from streams.topics import ensure_topics
from tests.chaos.harness import (
    Processes,
    chaos_line,
    differences,
    keyed,
    stored_calls,
    today_from_clickhouse,
    wait_drained,
    wait_equal,
)
from tests.support.cli import report
from tests.support.ports import free_ports
from tests.support.processes import Worker
from tests.support.scrape import rep_day_actuals
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


def spec(settings: Settings, seed: int, calls: int) -> SimulationSpec:
    # live: every call is stamped "now", so every rep has numbers for today
    return SimulationSpec(reps=24, calls=calls, seed=seed, live=True, duplicates=0.02, corrections=0.02,
                          timezone=settings.timezone)  # fmt: skip


def merged_rows(truths: Iterable[Truth]) -> dict[tuple[str, str], dict[str, Any]]:
    """Rows of several runs with disjoint call ids, summed per (business_day, rep)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for truth in truths:
        for row in truth.calls.values():
            key = (row["business_day"], row["rep_id"])
            if key not in out:
                out[key] = dict(row)
                continue
            held = out[key]
            for c in KPI_COUNTERS:
                held[c.name] = c.reported(c.unreported(held[c.name]) + c.unreported(row[c.name]))
    return out


def split(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> tuple[set[str], set[str]]:
    return set(a or ()), set(b or ())


@pytest.mark.chaos_timeout(180)
def test_survivor_takes_over_and_no_rep_is_exported_twice(
    make_settings: Callable[..., Settings], procs: Processes, scenario_logs: Path
) -> None:
    settings = make_settings()
    ensure_topics(settings)
    first = produce(spec(settings, 31, 4_000), settings)
    port_a, port_b = free_ports(2)
    a = procs.add(Worker(settings.model_copy(update={"web_port": port_a}), scenario_logs / "worker-a.log"))
    b = procs.add(Worker(settings.model_copy(update={"web_port": port_b}), scenario_logs / "worker-b.log"))
    a.start()
    b.start()
    wait_drained(settings, 120, [a, b])
    today = business_day(datetime.now(UTC), settings.zone).isoformat()
    in_clickhouse = today_from_clickhouse(settings, today)
    assert len(in_clickhouse) == 24, "every rep dialed today"

    transition_overlaps: set[str] = set()  # seen while the group was still settling (reported)

    def settled() -> bool:
        ra, rb = rep_day_actuals(port_a), rep_day_actuals(port_b)
        reps_a, reps_b = split(ra, rb)
        transition_overlaps.update(reps_a & reps_b)
        return bool(reps_a and reps_b and not reps_a & reps_b and reps_a | reps_b == set(in_clickhouse))

    wait_for(settled, 60, "both workers to export their own reps (group settled)")
    overlaps, scrapes = [], 0
    for _ in range(6):  # once settled, every scrape pair must be disjoint and complete
        ra, rb = rep_day_actuals(port_a), rep_day_actuals(port_b)
        assert ra is not None and rb is not None
        scrapes += 1
        overlaps += sorted(set(ra) & set(rb))
        assert {**ra, **rb} == in_clickhouse, "the two workers together show ClickHouse's numbers"
        time.sleep(0.5)
    assert overlaps == [], f"reps exported by both workers at once: {overlaps}"
    held_by_a = sorted(rep_day_actuals(port_a) or ())

    a.kill()
    killed_at = time.monotonic()
    second = produce(spec(settings, 32, 2_000), settings)
    wait_drained(settings, 120, [b])
    in_clickhouse = today_from_clickhouse(settings, today)
    wait_equal(lambda: rep_day_actuals(port_b), in_clickhouse, 60,
               "the survivor to export every rep with ClickHouse's values")
    took_over_s = time.monotonic() - killed_at  # kill -> survivor shows ClickHouse's numbers

    expected = merged_rows([first, second])
    days = sorted(day for day, _ in expected)
    got = keyed(report(settings, days[0], days[-1]))
    final, _ = stored_calls(settings)
    calls = first.totals["call_ids"] + second.totals["call_ids"]
    chaos_line("two_workers_one_killed", events=first.produced + second.produced, faults="1xSIGKILL",
               reps_moved=len(held_by_a), disjoint_scrapes=scrapes, overlapping_reps=len(overlaps),
               transition_overlaps=len(transition_overlaps), takeover_s=f"{took_over_s:.1f}",
               lost=max(0, calls - final), double=max(0, final - calls),
               mismatched_rows=len(differences(expected, got)))  # fmt: skip
    assert differences(expected, got) == []
