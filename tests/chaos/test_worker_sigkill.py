"""Scenario 1: the worker is SIGKILLed three times at seeded random moments while 100,000
CDRs flow (produced from a background thread), and restarted each time. Whatever was
written but not committed is replayed; payroll's report must still equal the truth.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from random import Random

import pytest

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
    wait_drained,
)
from tests.support.cli import report
from tests.support.processes import Worker
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

SEED = 20261127
KILLS = 3
# Paced so the producer outlasts the three kills: each restart takes about 20 s (the killed
# member's session must time out before the group rebalances). At 5,000 a second every CDR
# was stored before the third kill once, and that kill waited for rows that never came.
SPEC = SimulationSpec(reps=40, calls=100_000, days=2, seed=SEED, duplicates=0.01, corrections=0.01,
                      rate=1_000)  # fmt: skip


def physical_rows(settings: Settings) -> int:
    try:
        return stored_calls(settings)[1]
    except Exception:  # noqa: BLE001 - the worker has not created the table yet
        return 0


@pytest.mark.chaos_timeout(240)
def test_sigkill_three_times_while_100k_cdrs_flow(
    make_settings: Callable[..., Settings], procs: Processes, scenario_logs: Path
) -> None:
    settings = make_settings()
    ensure_topics(settings)
    rng = Random(SEED)
    worker = procs.add(Worker(settings, scenario_logs / "worker.log")).start()
    sender = BackgroundProducer(
        lambda stop: produce(SPEC, settings, stop=stop)
    )
    sender.start()
    procs.defer(sender.stop_event.set)

    kills: list[str] = []
    for n in range(1, KILLS + 1):
        assert sender.is_alive(), f"every CDR was produced before kill {n}: it would not be mid-stream"
        before = physical_rows(settings)
        wait_for(lambda b=before: physical_rows(settings) > b, 90, "the worker to write rows")
        time.sleep(rng.uniform(0.0, 3.0))
        at = physical_rows(settings)
        worker.kill()
        kills.append(f"{at}")
        worker.start()

    truth = sender.outcome(timeout_s=120)
    assert truth.complete and truth.produced >= 100_000
    wait_drained(settings, 150, [worker])
    assert worker.starts == KILLS + 1

    days = sorted({row["business_day"] for row in truth.calls.values()})
    got = keyed(report(settings, days[0], days[-1]))
    expected = keyed(truth.calls.values())
    final, _ = stored_calls(settings)
    calls = truth.totals["call_ids"]
    chaos_line("sigkill", events=truth.produced, faults=f"{KILLS}xSIGKILL", kills_at_rows="/".join(kills),
               lost=max(0, calls - final), double=max(0, final - calls),
               mismatched_rows=len(differences(expected, got)))  # fmt: skip
    assert differences(expected, got) == []
