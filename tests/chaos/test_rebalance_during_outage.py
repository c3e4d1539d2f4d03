"""A rebalance while ClickHouse is away: one worker retries its writes, a second worker
joins the group, partitions move while neither can write, then ClickHouse comes back.

The first worker's batch in flight belongs to partitions it may have lost; its chunks are
refused (stale generation, or not done) and replayed by their new owner. Afterwards
payroll's report equals the truth and every reject is in the dead-letter topic.
"""

from __future__ import annotations

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
    group_generations,
    wait_drained,
)
from tests.chaos.stopping import missing_dead_letters, physical_rows, report_differences, wait_retrying_writes
from tests.support.ports import free_ports
from tests.support.processes import ClickHouseProcess, Worker
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

SPEC = SimulationSpec(reps=40, calls=200_000, days=1, seed=5005, rate=800, bad=0.03, duplicates=0.01,
                      corrections=0.01)  # fmt: skip


@pytest.mark.chaos_timeout(240)
def test_rebalance_while_clickhouse_is_away(
    make_settings: Callable[..., Settings], procs: Processes, scenario_logs: Path, tmp_path: Path
) -> None:
    server = procs.add(ClickHouseProcess(tmp_path / "chdata", scenario_logs / "clickhouse.log"))
    server.start()
    settings = make_settings(clickhouse_url=server.url, partitions=8)
    ensure_topics(settings)
    port_a, port_b = free_ports(2)
    a = procs.add(Worker(settings.model_copy(update={"web_port": port_a}), scenario_logs / "worker-a.log"))
    # b starts during the outage: the schema step ran before a (migrate could not run now)
    b = procs.add(Worker(settings.model_copy(update={"web_port": port_b}), scenario_logs / "worker-b.log",
                         migrate=False))  # fmt: skip
    a.start()
    sender = BackgroundProducer(
        lambda stop: produce(SPEC, settings, stop=stop)
    )
    sender.start()
    procs.defer(sender.stop_event.set)

    wait_for(lambda: physical_rows(settings) > 2_000, 90, "the first worker to write rows")
    mark = len(a.log())
    server.stop()
    wait_retrying_writes(a, mark)
    generations = len(group_generations(a.log()))
    b.start()
    wait_for(lambda: len(group_generations(a.log())) > generations, 60, "the group to rebalance")
    time.sleep(3.0)  # both workers now hold partitions and cannot write
    server.start()

    sender.stop_event.set()
    truth = sender.outcome(timeout_s=60)
    wait_drained(settings, 150, [a, b])
    mismatched = report_differences(settings, truth)
    missing = missing_dead_letters(settings, truth)
    chaos_line("rebalance_during_outage", events=truth.produced, faults="worker joined while ClickHouse away",
               rejects=len(truth.bad), rejects_missing_from_dlq=missing,
               mismatched_rows=len(mismatched))  # fmt: skip
    assert mismatched == [], f"{len(mismatched)} (day, rep) rows differ, e.g. {mismatched[:3]}"
    assert missing == 0, f"{missing} of {len(truth.bad)} rejects are not in the dead-letter topic"
