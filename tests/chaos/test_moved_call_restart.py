"""A correction moves a call to a rep on another partition, then workers restart
(issue 10, item 3): live numbers must agree with ClickHouse again.

Rep A's keys land on partition 3, rep B's on partition 0. Call ``moved`` is first A's
(version 1, partition 3) and then corrected to B (version 2, partition 0), so partition 3
keeps a superseded copy. After a SIGTERM restart, one worker holding every partition
shows B's real numbers (the superseded copy must not overwrite them with zeros); with a
second worker in the group, no rep is exported by both, and together they show
ClickHouse's numbers.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.kpis import business_day
from schemas.settings import Settings
from streams.live_metrics import partition_for
from streams.topics import ensure_topics
from tests.chaos.cdrs import cdr, message
from tests.chaos.harness import (
    Processes,
    chaos_line,
    today_from_clickhouse,
    wait_drained,
    wait_equal,
)
from tests.chaos.stopping import signal_and_wait
from tests.support.kafka import send_all
from tests.support.ports import free_ports
from tests.support.processes import Worker
from tests.support.scrape import rep_day_actuals
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


def rep_on(partition: int, partitions: int) -> str:
    return next(f"rep-{i}" for i in range(10_000) if partition_for(f"rep-{i}", partitions) == partition)


@pytest.mark.chaos_timeout(180)
def test_a_call_moved_to_another_partition_shows_once_and_right_after_restarts(
    make_settings: Callable[..., Settings], procs: Processes, scenario_logs: Path
) -> None:
    settings = make_settings(partitions=4)
    ensure_topics(settings)
    rep_a, rep_b = rep_on(3, 4), rep_on(0, 4)
    dialed = datetime.now(UTC) - timedelta(minutes=10)
    if business_day(dialed, settings.zone) != business_day(datetime.now(UTC), settings.zone):
        dialed = datetime.now(UTC)
    events = [
        cdr("moved", dialed, rep=rep_a, shape="sale"),
        cdr("a-own", dialed, rep=rep_a, shape="connect"),
        cdr("b-own", dialed, rep=rep_b, shape="no_answer"),
        cdr("moved", dialed, version=2, rep=rep_b, shape="sale"),
    ]
    send_all(settings.kafka_bootstrap, settings.cdr_topic, [message(e) for e in events])
    port_1, port_2 = free_ports(2)
    first = procs.add(Worker(settings.model_copy(update={"web_port": port_1}), scenario_logs / "w1.log"))
    first.start()
    wait_drained(settings, 90, [first])
    today = business_day(datetime.now(UTC), settings.zone).isoformat()
    in_clickhouse = today_from_clickhouse(settings, today)
    assert in_clickhouse[rep_b]["dials"] == 2 and in_clickhouse[rep_a]["dials"] == 1

    signal_and_wait(first, signal.SIGTERM)
    first.start()
    wait_equal(lambda: rep_day_actuals(port_1), in_clickhouse, 60,
               "one worker after a restart to show ClickHouse's numbers")  # fmt: skip

    second = procs.add(Worker(settings.model_copy(update={"web_port": port_2}), scenario_logs / "w2.log"))
    second.start()
    overlaps: list[str] = []

    def settled() -> bool:
        a, b = rep_day_actuals(port_1), rep_day_actuals(port_2)
        if a is None or b is None or not a or not b:
            return False
        overlaps[:] = sorted(set(a) & set(b))
        return not overlaps and {**a, **b} == in_clickhouse

    try:
        wait_for(settled, 60, "two workers to show ClickHouse's numbers, each rep once")
    finally:
        chaos_line("moved_call_restart", events=len(events), faults="1xSIGTERM, 1 worker joined",
                   overlapping_reps=len(overlaps))  # fmt: skip
