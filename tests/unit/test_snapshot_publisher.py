"""What a worker publishes for the wallboard: changed reps only, every rep again after a
rebalance (a new generation), the collector's reps (so /metrics and the board agree),
and a heartbeat once a second even when nothing changes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from prometheus_client import CollectorRegistry

from schemas.kpis import Contribution, business_day
from schemas.settings import Settings
from schemas.snapshots import Heartbeat, RepSnapshot
from streams.live_collector import LiveCollector
from streams.live_metrics import partition_for
from streams.live_state import CallFacts, LiveState
from streams.pipeline import CdrPipeline
from streams.pipeline_metrics import PipelineMetrics
from streams.routing import RawEvent
from streams.snapshots import SnapshotPublisher, publish_rounds
from tests.factories import cdr_dict, encode
from tests.unit.test_cdr_flow import AbsentClickHouse

SETTINGS = Settings(timezone="UTC", partitions=4)
TODAY = date(2026, 12, 1)
NOON = datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp()


def call(call_id: str, rep: str, dials: int = 1, sales: int = 0) -> CallFacts:
    return CallFacts(call_id, 1, rep, "team-a", TODAY, Contribution(dials=dials, sales=sales).as_tuple())


class Clock:
    def __init__(self) -> None:
        self.now = NOON

    def __call__(self) -> float:
        return self.now


def make(month: dict | None = None) -> tuple[LiveState, SnapshotPublisher, dict[str, int], Clock]:
    state = LiveState(today=lambda: TODAY)
    reps = ["rep-1", "rep-2"]
    for rep in reps:
        state.seed(partition_for(rep, SETTINGS.partitions), [])
    generation = {"value": 3}
    pipeline = SimpleNamespace(
        exported_partitions=lambda: set(state.partitions),
        metrics=PipelineMetrics(CollectorRegistry()),
    )
    collector = LiveCollector(
        SETTINGS, state, exported_partitions=pipeline.exported_partitions,
        partition_of=lambda rep: partition_for(rep, SETTINGS.partitions), targets=lambda: None,
        month_before_today=lambda: month or {}, campaign_abandons=lambda: {"camp": (2, 98)},
    )  # fmt: skip
    clock = Clock()
    publisher = SnapshotPublisher(SETTINGS, pipeline, collector, lambda: generation["value"], clock)
    return state, publisher, generation, clock


def reps_in(messages: list) -> dict[str, RepSnapshot]:
    return {m.rep_id: m for m in messages if isinstance(m, RepSnapshot)}


def test_only_changed_reps_are_published_again() -> None:
    state, publisher, _, clock = make(month={"rep-1": (4, 0, 0)})
    state.apply(partition_for("rep-1", 4), call("c1", "rep-1", sales=1))
    state.apply(partition_for("rep-2", 4), call("c2", "rep-2"))
    first = reps_in(publisher.due())
    assert set(first) == {"rep-1", "rep-2"}
    assert first["rep-1"].today["dials"] == 1 and first["rep-1"].month["sales"] == 5
    assert first["rep-1"].generation == 3 and first["rep-1"].day == "2026-12-01"
    assert first["rep-1"].partition == partition_for("rep-1", 4)
    clock.now += 0.25
    assert reps_in(publisher.due()) == {}
    state.apply(partition_for("rep-2", 4), call("c3", "rep-2"))
    clock.now += 0.25
    assert {rep: m.today["dials"] for rep, m in reps_in(publisher.due()).items()} == {"rep-2": 2}


def test_a_new_generation_publishes_every_rep_again() -> None:
    state, publisher, generation, clock = make()
    state.apply(partition_for("rep-1", 4), call("c1", "rep-1"))
    publisher.due()
    generation["value"] = 4
    clock.now += 0.25
    again = reps_in(publisher.due())
    assert set(again) == {"rep-1"} and again["rep-1"].generation == 4


def test_a_revoked_partition_is_not_published() -> None:
    state, publisher, _, _ = make()
    state.apply(partition_for("rep-1", 4), call("c1", "rep-1"))
    state.drop(partition_for("rep-1", 4))
    assert reps_in(publisher.due()) == {}


def test_heartbeat_once_a_second_even_when_idle() -> None:
    _, publisher, _, clock = make()
    beats = []
    for _ in range(8):
        beats += [m for m in publisher.due() if isinstance(m, Heartbeat)]
        clock.now += 0.25
    assert len(beats) == 2
    assert beats[0].campaigns == {"camp": (2, 98)} and beats[0].partition_count == 4
    assert beats[0].partitions == sorted({partition_for(r, 4) for r in ("rep-1", "rep-2")})
    assert beats[0].lag == 0


class Rounds:
    """Runs ``publish_rounds`` with a ``send`` that records the reps of each round."""

    def __init__(self, publisher: SnapshotPublisher, interval: float, fail_first: bool = False) -> None:
        self.publisher, self.interval, self.fail_first = publisher, interval, fail_first
        self.counted = asyncio.Event()
        self.sent: list[dict[str, RepSnapshot]] = []
        self.arrived = asyncio.Event()

    async def send(self, messages: list) -> None:
        if self.fail_first and not self.sent:
            self.sent.append({})
            self.arrived.set()
            raise ConnectionError("broker away")
        self.sent.append(reps_in(messages))
        self.arrived.set()

    async def run(self, body: Callable[[Rounds], Awaitable[None]]) -> None:
        task = asyncio.create_task(publish_rounds(self.publisher, self.send, self.counted, self.interval,
                                                  min_gap=0.0))  # fmt: skip
        try:
            await asyncio.wait_for(body(self), 30)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def next_round_with_reps(self) -> dict[str, RepSnapshot]:
        while True:
            self.arrived.clear()
            await self.arrived.wait()
            if self.sent[-1]:
                return self.sent[-1]


def test_a_counted_batch_is_published_at_once_not_after_the_interval() -> None:
    """The interval is an hour here: the round must come from the batch being counted."""
    state, publisher, _, _ = make()
    rounds = Rounds(publisher, interval=3600.0)

    async def body(r: Rounds) -> None:
        await asyncio.sleep(0.01)  # the first round (at start, the interval) has not come
        assert r.sent == []
        state.apply(partition_for("rep-1", 4), call("c1", "rep-1"))
        r.counted.set()
        published = await r.next_round_with_reps()
        assert {rep: m.today["dials"] for rep, m in published.items()} == {"rep-1": 1}

    asyncio.run(rounds.run(body))


def test_without_batches_rounds_still_come_every_interval() -> None:
    _, publisher, _, _ = make()
    rounds = Rounds(publisher, interval=0.01)

    async def body(r: Rounds) -> None:
        while len(r.sent) < 3:
            r.arrived.clear()
            await r.arrived.wait()

    asyncio.run(rounds.run(body))


def test_after_a_failed_round_every_rep_is_published_again() -> None:
    state, publisher, _, _ = make()
    state.apply(partition_for("rep-1", 4), call("c1", "rep-1"))
    state.apply(partition_for("rep-2", 4), call("c2", "rep-2"))
    rounds = Rounds(publisher, interval=3600.0, fail_first=True)

    async def body(r: Rounds) -> None:
        r.counted.set()
        await r.arrived.wait()  # the round that failed: the broker took none of it
        r.counted.set()
        assert set(await r.next_round_with_reps()) == {"rep-1", "rep-2"}

    asyncio.run(rounds.run(body))


def test_a_batch_signals_its_counts_before_clickhouse_acknowledges_it() -> None:
    """What the wallboard and /metrics show does not wait for the batch's write (DESIGN.md asks
    only that offsets wait for it); the write here never returns."""

    async def scenario() -> tuple[bool, int]:
        writer = AbsentClickHouse()
        pipeline = CdrPipeline(SETTINGS, dlq_topic=None, metrics=PipelineMetrics(CollectorRegistry()),  # type: ignore[arg-type]  # no dead-letter topic: nothing is rejected here
                               writer=writer)  # fmt: skip
        pipeline.take_assignment({0})
        pipeline.state.seed(0, [])
        dialed = datetime.now(UTC) - timedelta(minutes=5)
        times = {"dialed_at": dialed.isoformat(), "answered_at": (dialed + timedelta(seconds=12)).isoformat(),
                 "ended_at": (dialed + timedelta(seconds=72)).isoformat()}  # fmt: skip
        batch = [RawEvent(0, i, b"rep-1", encode(cdr_dict(call_id=f"c-{i}", **times))) for i in range(3)]

        async def count_then_write() -> None:  # steps 1 and 3 of streams.cdr_agent.cdr_flow
            outcome = await pipeline.count(batch)
            await pipeline.write_rows(outcome.rows)

        task = asyncio.ensure_future(count_then_write())
        await asyncio.wait_for(writer.started.wait(), 5)
        signalled = pipeline.counted.is_set()
        day = business_day(dialed, SETTINGS.zone)  # yesterday's, just after midnight
        dials = sum(c.dials for rep, _, c in pipeline.state.day_counters(day) if rep == "rep-1")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return signalled, dials

    signalled, dials = asyncio.run(scenario())
    assert signalled and dials == 3


class TimedPublisher:
    """``due`` burns ``cpu_s`` of CPU; each round's start is noted."""

    def __init__(self, cpu_s: float) -> None:
        self.cpu_s = cpu_s
        self.starts: list[float] = []

    def due(self) -> list:
        self.starts.append(time.monotonic())
        until = time.thread_time() + self.cpu_s
        while time.thread_time() < until:
            pass
        return []

    def forget(self) -> None:
        pass


def rounds_started(publisher: TimedPublisher, send_s: float, count: int) -> list[float]:
    async def send(_messages: list) -> None:
        await asyncio.sleep(send_s)  # waiting, not computing: a slow broker, a busy machine

    async def scenario() -> list[float]:
        counted = asyncio.Event()
        task = asyncio.create_task(publish_rounds(publisher, send, counted, interval=3600.0, min_gap=0.0))  # type: ignore[arg-type]  # test doubles: publisher and send
        try:
            while len(publisher.starts) < count:
                counted.set()  # a chunk is always waiting
                await asyncio.sleep(0.005)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return publisher.starts

    return asyncio.run(asyncio.wait_for(scenario(), 30))


def test_rounds_are_spaced_by_the_cpu_they_cost_not_by_waiting() -> None:
    """A round that waited 0.3 s (for the broker, or for a core) is followed at once; a round
    that computed 40 ms is followed no sooner than five times that."""
    waited = rounds_started(TimedPublisher(cpu_s=0.0), send_s=0.3, count=3)
    assert max(b - a for a, b in itertools.pairwise(waited)) < 0.9, "waiting taken for cost (1.5 s)"
    computed = rounds_started(TimedPublisher(cpu_s=0.04), send_s=0.0, count=3)
    assert min(b - a for a, b in itertools.pairwise(computed)) >= 0.19
