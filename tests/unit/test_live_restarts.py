"""Live numbers after a restart, a rebalance or a correction agree with what ClickHouse
holds (issue 10, item 3). The pipeline's seeding is driven with the rows ClickHouse's
``partition_calls`` would return; no service is started."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry

from schemas.kpis import COUNTER_NAMES
from schemas.settings import Settings
from sinks.clickhouse.calls import rank
from streams.app import create_app
from streams.live_collector import LiveCollector
from streams.live_metrics import partition_for
from streams.live_state import LiveState, Verdict
from streams.pipeline import CdrPipeline
from streams.pipeline_metrics import PipelineMetrics
from streams.routing import RawEvent, route_piece
from tests.factories import cdr_dict, encode

ZONE = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
SETTINGS = Settings(partitions=4)
DIALS = COUNTER_NAMES.index("dials")


def clickhouse_row(call_id: str, rep: str, home: int, dials: int = 1, version: int = 1) -> tuple:
    """A row as ``partition_calls`` returns it: ..., the winner's partition, the counters."""
    counters = [0] * len(COUNTER_NAMES)
    counters[DIALS] = dials
    return (call_id, rank(version, 0), rep, "team-a", TODAY, home, *counters)


def pipeline_over(clickhouse: Mapping[int, list[tuple]]) -> CdrPipeline:
    """A pipeline whose ClickHouse reads answer from ``clickhouse`` (partition -> rows)."""
    pipeline = CdrPipeline(SETTINGS, dlq_topic=None, metrics=PipelineMetrics(CollectorRegistry()))  # type: ignore[arg-type]  # no dead-letter topic: nothing is rejected here
    pipeline.state = LiveState(today=lambda: TODAY)

    async def retrying(what: str, fn: Callable[[Any], Any]) -> Any:
        partition = int(what.rsplit(" ", 1)[1])
        return list(clickhouse[partition])

    pipeline.retrying = retrying  # type: ignore[method-assign]  # reads answer from the given rows
    return pipeline


def collector(
    pipeline: CdrPipeline, owned: set[int], month: Mapping[str, tuple] | None = None
) -> LiveCollector:
    return LiveCollector(
        SETTINGS, pipeline.state, exported_partitions=lambda: owned & pipeline.exported_partitions(),
        partition_of=lambda rep: partition_for(rep, pipeline.topic_partitions), targets=lambda: None,
        month_before_today=lambda: month or {}, campaign_abandons=lambda: {}, clock=lambda: NOW,
    )  # fmt: skip


def exported_dials(live: LiveCollector) -> dict[str, float]:
    return {
        sample.labels["rep"]: sample.value
        for family in live.collect() if family.name == "callfloor_rep_actual"
        for sample in family.samples
        if sample.labels["metric"] == "dials" and sample.labels["period"] == "day"
    }  # fmt: skip


# A correction moved call c-9 from rep-a (partition 2) to rep-b (partition 1): ClickHouse's
# winner lives on partition 1; partition 2 still holds the old copy.
MOVED = {p: [clickhouse_row("c-9", "rep-b", home=1, version=2)] for p in (1, 2)}


def test_a_call_moved_to_another_partition_counts_for_its_new_rep_after_a_restart() -> None:
    pipeline = pipeline_over(MOVED)
    pipeline.take_assignment({1, 2})
    asyncio.run(pipeline.ensure_seeded({1, 2}))
    assert exported_dials(collector(pipeline, {1, 2})) == {"rep-b": 1.0}


def test_the_worker_holding_only_the_old_copy_does_not_export_the_new_rep() -> None:
    pipeline = pipeline_over(MOVED)
    pipeline.take_assignment({2})
    asyncio.run(pipeline.ensure_seeded({2}))
    live = collector(pipeline, {2}, month={"rep-b": (1,) * 3})
    assert exported_dials(live) == {}, "rep-b's month-to-date would be counted by two workers"


def test_an_old_copy_of_a_moved_call_stays_stale_after_seeding() -> None:
    pipeline = pipeline_over(MOVED)
    pipeline.take_assignment({2})
    asyncio.run(pipeline.ensure_seeded({2}))
    v1 = cdr_dict(call_id="c-9", rep_id="rep-a", dialed_at="2026-11-26T10:00:00+08:00")
    outcome = route_piece([RawEvent(2, 5, b"rep-a", encode(v1))], pipeline.state,
                            zone=ZONE, valid_call_seconds=30, now=NOW)  # fmt: skip
    assert outcome.verdicts[Verdict.STALE] == 1 and exported_dials(collector(pipeline, {2})) == {}


def test_a_partition_that_comes_back_is_seeded_again() -> None:
    clickhouse = {0: [clickhouse_row("c-1", "rep-x", home=0)]}
    pipeline = pipeline_over(clickhouse)
    pipeline.take_assignment({0})
    asyncio.run(pipeline.ensure_seeded({0}))
    pipeline.on_revoked({0})
    pipeline.take_assignment(set())  # partition 0 went to another worker
    asyncio.run(pipeline.ensure_seeded({0}))  # a batch fetched before the rebalance
    clickhouse[0] = [clickhouse_row(f"c-{i}", "rep-x", home=0) for i in range(1, 5)]  # the other worker's
    pipeline.take_assignment({0})  # partition 0 comes back
    asyncio.run(pipeline.seed_assigned())
    assert exported_dials(collector(pipeline, {0})) == {"rep-x": 4.0}


def test_a_correction_out_of_the_live_window_takes_the_old_counts_out_of_today() -> None:
    state = LiveState(today=lambda: TODAY)
    state.seed(0, [])
    v1 = cdr_dict(call_id="c-5")
    v2 = cdr_dict(call_id="c-5", version=2, dialed_at="2026-11-23T10:00:00+08:00",
                  answered_at="2026-11-23T10:00:12+08:00", ended_at="2026-11-23T10:01:12+08:00")  # fmt: skip
    events = [RawEvent(0, 0, b"rep-1", encode(v1)), RawEvent(0, 1, b"rep-1", encode(v2))]
    outcome = route_piece(events, state, zone=ZONE, valid_call_seconds=30, now=NOW)
    assert outcome.verdicts[Verdict.OUTSIDE_WINDOW] == 1 and len(outcome.rows) == 2
    assert {rep: c.dials for rep, _, c in state.day_counters(TODAY)} in ({}, {"rep-1": 0})
    stale_v1 = route_piece([RawEvent(0, 2, b"rep-1", encode(v1))], state, zone=ZONE,
                             valid_call_seconds=30, now=NOW)  # fmt: skip
    assert stale_v1.verdicts[Verdict.STALE] == 1


def rep_whose_home_moves(before: int, after: int) -> str:
    reps = (f"rep-{i}" for i in range(1000))
    return next(rep for rep in reps if partition_for(rep, before) != partition_for(rep, after))


@pytest.mark.parametrize("real_partitions", [8])
def test_reps_without_calls_are_placed_by_the_topics_real_partition_count(real_partitions: int) -> None:
    settings = SETTINGS
    app = create_app(settings)
    # create_app attaches the pipeline; the consumer reports real_partitions
    pipeline: CdrPipeline = app.pipeline  # type: ignore[attr-defined]
    app.consumer.topic_partitions = lambda topic: real_partitions if topic == settings.cdr_topic else None  # type: ignore[method-assign]

    async def assign() -> None:
        await app.on_partitions_assigned.send(assigned={TP(settings.cdr_topic, 0)})
        await asyncio.sleep(0)

    # no ClickHouse here: seeding and the writer's handshake do nothing
    pipeline.ensure_seeded = lambda partitions: asyncio.sleep(0)  # type: ignore[method-assign,assignment,return-value]
    pipeline.writer.connect = lambda: None  # type: ignore[method-assign]
    asyncio.run(assign())
    assert pipeline.topic_partitions == real_partitions
    rep = rep_whose_home_moves(settings.partitions, real_partitions)
    live: LiveCollector = app.live_collector  # type: ignore[attr-defined]  # create_app attaches it
    assert live.partition_of(rep) == partition_for(rep, real_partitions)
    assert partition_for(rep, real_partitions) != partition_for(rep, settings.partitions)
