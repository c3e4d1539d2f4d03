"""The agent's body (``streams.cdr_agent.cdr_flow``, batching by its sink buffer): a chunk is
counted the moment it arrives, stored with others a flush later, and acked only once stored; a
stop while ClickHouse is away cancels the write and acks nothing."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from schemas.settings import Settings
from streams.cdr_agent import cdr_flow
from streams.pipeline import CdrPipeline, RowWriter
from streams.pipeline_metrics import PipelineMetrics
from streams.routing import RawEvent
from tests.factories import cdr_dict, encode


class AbsentClickHouse:
    """A writer whose write never returns: the store step retrying while ClickHouse is away."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = 0

    async def write(self, rows: Any) -> None:
        self.started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


class GatedClickHouse:
    """A writer that records each write and returns only when the test opens the gate."""

    def __init__(self, open_: bool = True) -> None:
        self.writes: list[tuple[float, list[str]]] = []
        self.gate = asyncio.Event()
        if open_:
            self.gate.set()

    async def write(self, rows: Any) -> None:
        self.writes.append((time.monotonic(), [row[0] for row in rows]))
        await self.gate.wait()


def seeded_pipeline(writer: RowWriter) -> CdrPipeline:
    pipeline = CdrPipeline(Settings(), dlq_topic=None, metrics=PipelineMetrics(CollectorRegistry()),  # type: ignore[arg-type]  # no dead-letter topic: nothing is rejected here
                           writer=writer)  # fmt: skip
    pipeline.take_assignment({0})
    pipeline.state.seed(0, [])
    return pipeline


def chunk(first: int, count: int = 1) -> SimpleNamespace:
    """A Faust event carrying a chunk of ``count`` CDRs of partition 0 from offset ``first``."""
    dialed = datetime.now(UTC) - timedelta(minutes=5)
    times = {"dialed_at": dialed.isoformat(), "answered_at": (dialed + timedelta(seconds=12)).isoformat(),
             "ended_at": (dialed + timedelta(seconds=72)).isoformat()}  # fmt: skip
    records = [RawEvent(0, i, b"rep-1", encode(cdr_dict(call_id=f"c-{i}", **times)))
               for i in range(first, first + count)]  # fmt: skip
    return SimpleNamespace(value=records, message=SimpleNamespace())


def counted_calls(pipeline: CdrPipeline) -> set[str]:
    return {facts.call_id for facts in pipeline.state.seen_calls(0)}


class Acks(list[Any]):
    async def __call__(self, event: Any) -> None:
        self.append(event)


class Feed:
    """The agent's stream of chunks, fed by the test. ``add`` returns once the flow asks for the
    next chunk, that is once it counted this one; it raises what stopped the flow."""

    def __init__(self) -> None:
        self._chunk: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
        self._asking = asyncio.Event()
        self.flow: asyncio.Future[None] | None = None

    def __aiter__(self) -> Feed:
        return self

    async def __anext__(self) -> Any:
        self._asking.set()
        return await self._chunk.get()

    async def add(self, event: Any) -> None:
        await self._until_asking()
        self._asking.clear()
        self._chunk.put_nowait(event)
        await self._until_asking()

    async def _until_asking(self) -> None:
        assert self.flow is not None
        asking = asyncio.ensure_future(self._asking.wait())
        await asyncio.wait({asking, self.flow}, return_when=asyncio.FIRST_COMPLETED)
        if not asking.done():
            asking.cancel()
            self.flow.result()  # re-raises what stopped the flow
            raise RuntimeError("the flow ended")


def start_flow(pipeline: CdrPipeline, ack: Any, *, flush_seconds: float, batch_rows: int) -> Feed:
    """``cdr_flow`` running as the agent's task, reading the returned feed."""
    feed = Feed()
    feed.flow = asyncio.ensure_future(
        cdr_flow(pipeline, feed, ack, flush_seconds=flush_seconds, batch_rows=batch_rows)
    )
    return feed


@contextlib.asynccontextmanager
async def flowing(
    pipeline: CdrPipeline, ack: Any, *, flush_seconds: float, batch_rows: int
) -> AsyncIterator[Feed]:
    """The flow while the body feeds it; cancelled on the way out, as Faust stops an agent."""
    feed = start_flow(pipeline, ack, flush_seconds=flush_seconds, batch_rows=batch_rows)
    assert feed.flow is not None
    try:
        yield feed
    finally:
        feed.flow.cancel()
        await asyncio.wait({feed.flow})


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_chunk_counts_at_once_and_is_acked_only_after_its_write() -> None:
    async def scenario() -> None:
        writer = GatedClickHouse(open_=False)
        pipeline = seeded_pipeline(writer)
        acks = Acks()
        async with flowing(pipeline, acks, flush_seconds=0.05, batch_rows=1000) as sink:
            first = chunk(0, 3)
            await sink.add(first)
            assert counted_calls(pipeline) == {"c-0", "c-1", "c-2"}, "counted before any write"
            assert pipeline.counted.is_set()
            while not writer.writes:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            assert acks == [], "acked before ClickHouse acknowledged the rows"
            assert pipeline.next_offsets == {}
            second = chunk(3, 2)
            await sink.add(second)  # counted while the first write is still in flight
            assert counted_calls(pipeline) >= {"c-3", "c-4"}
            writer.gate.set()
            while len(acks) < 2:
                await asyncio.sleep(0.01)
            assert acks == [first, second], "acked in arrival order"
            assert [ids for _, ids in writer.writes] == [["c-0", "c-1", "c-2"], ["c-3", "c-4"]]
            assert pipeline.next_offsets == {0: 5}

    run(scenario)


def test_a_flush_is_timed_from_the_oldest_waiting_chunk() -> None:
    """Chunks arriving one after another do not postpone the flush of the first."""

    async def scenario() -> None:
        writer = GatedClickHouse()
        async with flowing(seeded_pipeline(writer), Acks(), flush_seconds=0.3, batch_rows=1000) as sink:
            started = time.monotonic()
            for offset in range(20):
                await sink.add(chunk(offset))
                await asyncio.sleep(0.05)
        assert writer.writes, "nothing was flushed"
        first_flush_at = writer.writes[0][0] - started
        assert first_flush_at < 0.6, f"first flush after {first_flush_at:.2f}s, chunks kept postponing it"
        assert len(writer.writes) >= 2

    run(scenario)


def test_a_full_batch_flushes_without_waiting_and_counting_waits_behind_it() -> None:
    async def scenario() -> None:
        writer = GatedClickHouse(open_=False)
        pipeline = seeded_pipeline(writer)
        async with flowing(pipeline, Acks(), flush_seconds=3600, batch_rows=4) as sink:
            await sink.add(chunk(0, 4))
            while not writer.writes:  # full: flushed though the hour has not passed
                await asyncio.sleep(0.01)
            await sink.add(chunk(4, 4))  # counted while the first batch is being written
            blocked = asyncio.ensure_future(sink.add(chunk(8, 4)))
            await asyncio.sleep(0.2)
            assert not blocked.done(), "a third batch was counted while two waited to be stored"
            assert "c-8" not in counted_calls(pipeline)
            writer.gate.set()
            await asyncio.wait_for(blocked, 5)
            assert "c-8" in counted_calls(pipeline)

    run(scenario)


def test_a_failed_count_stores_what_was_counted_and_counts_the_chunk_again() -> None:
    async def scenario() -> None:
        writer = GatedClickHouse()
        pipeline = seeded_pipeline(writer)
        acks = Acks()
        real_count = pipeline.count
        failures = iter([True])

        async def count_failing_once(records: Any) -> Any:
            if next(failures, False):
                raise RuntimeError("a routing bug")
            return await real_count(records)

        seeds: list[int] = []

        async def ensure_seeded(partitions: Any) -> None:
            for partition in set(partitions):
                if not pipeline.state.owns(partition):
                    seeds.append(partition)
                    pipeline.state.seed(partition, [])

        async with flowing(pipeline, acks, flush_seconds=3600, batch_rows=1000) as sink:
            first = chunk(0, 2)
            await sink.add(first)
            # a count that fails once, and seeding that does nothing
            pipeline.count = count_failing_once  # type: ignore[method-assign]
            pipeline.ensure_seeded = ensure_seeded  # type: ignore[method-assign]
            second = chunk(2, 2)
            await sink.add(second)
            assert acks == [first], "what was counted before the failure was not stored first"
            assert seeds == [0], "the chunk's partition was not re-seeded"
            assert counted_calls(pipeline) == {"c-2", "c-3"}

    run(scenario)


def test_stopping_cancels_a_flush_whose_writes_are_retrying() -> None:
    async def scenario() -> tuple[int, dict[int, int], list[Any]]:
        writer = AbsentClickHouse()
        pipeline = seeded_pipeline(writer)
        acks = Acks()
        sink = start_flow(pipeline, acks, flush_seconds=0.01, batch_rows=1000)
        task = sink.flow
        assert task is not None
        await sink.add(chunk(0, 3))
        await asyncio.wait_for(writer.started.wait(), 5)
        task.cancel()  # what Faust does to the agent on SIGTERM or SIGINT
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        return writer.cancelled, pipeline.next_offsets, acks

    writes_cancelled, next_offsets, acks = run(scenario)
    assert writes_cancelled == 1
    assert next_offsets == {}, "a cancelled flush must not count as processed"
    assert acks == [], "a chunk that was not stored was acked"


def test_a_flusher_that_died_stops_the_agent_instead_of_stalling_commits() -> None:
    async def scenario() -> None:
        pipeline = seeded_pipeline(GatedClickHouse())

        async def broken_ack(_event: Any) -> None:
            raise RuntimeError("the broker client broke")

        added = 0
        with pytest.raises(RuntimeError, match="broker client broke"):
            async with flowing(pipeline, broken_ack, flush_seconds=0.01, batch_rows=1000) as sink:
                for offset in range(100):  # far below a batch: add never waits for a flush
                    await sink.add(chunk(offset))
                    added += 1
                    await asyncio.sleep(0.02)
        assert added < 20, f"{added} chunks were counted after the flusher died"

    run(scenario)


class RecordingTopic:
    """A dead-letter topic that notes each send in ``order`` (the broker acknowledges at once)."""

    def __init__(self, order: list[str]) -> None:
        self.order = order

    async def send(self, **_: Any) -> asyncio.Future[None]:
        self.order.append("dead letter")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def test_a_batch_writes_its_rows_then_sends_its_dead_letters_then_acks() -> None:
    """The order cdr_flow spells out: rows, dead letters, then the ack, never before."""

    async def scenario() -> list[str]:
        order: list[str] = []

        class Writer:
            async def write(self, rows: Any) -> None:
                order.append(f"{len(rows)} rows")

        pipeline = seeded_pipeline(Writer())
        pipeline.dlq_topic = RecordingTopic(order)  # type: ignore[assignment]  # a recording stand-in for the topic
        good = chunk(0, 2)
        good.value.append(RawEvent(0, 2, b"rep-1", b"not json"))

        async def ack(_event: Any) -> None:
            order.append("ack")

        async with flowing(pipeline, ack, flush_seconds=0.01, batch_rows=1000) as sink:
            await sink.add(good)
            while "ack" not in order:
                await asyncio.sleep(0.01)
        return order

    assert run(scenario) == ["2 rows", "dead letter", "ack"]
