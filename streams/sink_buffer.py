"""Count each chunk the moment it arrives; hand the counted chunks to a flush, in batches.

The floor's numbers (the live state behind /metrics and the wallboard's snapshots) move
as soon as a chunk is counted, whatever ClickHouse is doing. The chunks counted since the
last flush make one :class:`Batch`, due ``flush_seconds`` after the oldest of them arrived
or as soon as ``batch_rows`` records wait. What a flush does with a batch (store it, then
ack it) is the caller's: :func:`streams.cdr_agent.cdr_flow` spells it out. One flush runs
at a time while the next chunks are counted; counting waits once a whole batch is waiting
behind a flush, so memory stays bounded and, with ClickHouse away, Faust stops fetching.

Stopping (SIGTERM, SIGINT, a cancelled agent) cancels a flush in flight: whatever it had
not finished (in the agent: the ack) never happens, and whoever holds the chunks'
partitions next replays them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from faust.types import EventT

from sinks.clickhouse.calls import Row
from streams.pipeline import CdrPipeline, Counted
from streams.retry import retry_forever
from streams.routing import DeadLetter, KafkaRecord, PieceOutcome


@dataclass
class Batch:
    """Chunks counted and not yet flushed, oldest first: what one flush stores and acks."""

    events: list[EventT[Any]] = field(default_factory=list)
    counted: Counted = field(default_factory=list)
    records: int = 0
    since: float = 0.0  # monotonic time the oldest arrived

    @property
    def rows(self) -> list[Row]:
        """The rows of every chunk, in arrival order: one insert."""
        return [row for _, outcome in self.counted for row in outcome.rows]

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return [letter for _, outcome in self.counted for letter in outcome.dead_letters]


log = logging.getLogger(__name__)


class SinkBuffer:
    def __init__(
        self,
        pipeline: CdrPipeline,
        flush: Callable[[Batch], Awaitable[None]],
        *,
        flush_seconds: float,
        batch_rows: int,
    ) -> None:
        """``pipeline`` counts each chunk; ``flush`` is given each due batch, one at a time."""
        self.pipeline = pipeline
        self._flush = flush
        self.flush_seconds = flush_seconds
        self.batch_rows = batch_rows
        self._waiting = Batch()
        self._flushing = False
        self._urgent = False  # flush what waits now, without waiting for the batch to fill
        self._arrived = asyncio.Event()  # a chunk was added, or a flush is wanted now
        self._flushed = asyncio.Event()  # a flush took the waiting chunks or finished
        self._flusher: asyncio.Future[None] | None = None

    @contextlib.asynccontextmanager
    async def flushing(self) -> AsyncIterator[SinkBuffer]:
        """Run the flusher while the body adds chunks; cancel it (mid-flush, too) on the way out."""
        self._flusher = asyncio.ensure_future(self._flush_forever())
        try:
            yield self
        finally:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher

    async def add(self, event: EventT[Any]) -> None:
        """Count the chunk behind ``event`` now (:meth:`CdrPipeline.count`); a later flush gets it."""
        self._check_flusher()  # a flusher that died would otherwise stall the commits silently
        while self._waiting.records >= self.batch_rows:
            await self._until_flushed()
        records = cast("Sequence[KafkaRecord]", event.value)  # faust types a value as bytes or a model
        outcome = await self._count(records)
        waiting = self._waiting
        if not waiting.events:
            waiting.since = time.monotonic()
        waiting.events.append(event)
        waiting.counted.append((records, outcome))
        waiting.records += len(records)
        self._arrived.set()

    async def _count(self, records: Sequence[KafkaRecord]) -> PieceOutcome:
        """Never leave a chunk uncounted: on an error (a bug, since ClickHouse being away only
        delays seeding), store what was counted, forget the chunk's partitions so they are
        re-seeded from what is really stored, and count the chunk again."""

        async def store_and_forget(_: BaseException) -> None:
            await self._drain()
            for partition in {record.partition for record in records}:
                self.pipeline.state.drop(partition)

        return await retry_forever(
            f"counting {len(records)} records", lambda: self.pipeline.count(records),
            before_retry=store_and_forget, logger=log,
        )  # fmt: skip

    async def _drain(self) -> None:
        """Wait until every counted chunk is stored."""
        while self._waiting.events or self._flushing:
            if self._waiting.events:
                self._urgent = True
                self._arrived.set()
            await self._until_flushed()

    async def _until_flushed(self) -> None:
        self._check_flusher()
        self._flushed.clear()
        await self._flushed.wait()

    def _check_flusher(self) -> None:
        flusher = self._flusher
        if flusher is None:
            raise RuntimeError("SinkBuffer.add() outside flushing()")
        if flusher.done():
            flusher.result()  # re-raises what stopped it
            raise RuntimeError("the flusher stopped")

    async def _flush_forever(self) -> None:
        try:
            await self._flush_batches()
        except Exception:
            log.exception("the sink buffer's flusher stopped")
            raise

    async def _flush_batches(self) -> None:
        while True:
            await self._until_due()
            batch, self._waiting = self._waiting, Batch()
            self._urgent = False
            self._flushing = True
            self._flushed.set()  # room for the next batch to be counted
            try:
                await self._flush(batch)
            finally:
                self._flushing = False
                self._flushed.set()

    async def _until_due(self) -> None:
        while not self._waiting.events:
            self._arrived.clear()
            await self._arrived.wait()
        while self._waiting.records < self.batch_rows and not self._urgent:
            left = self._waiting.since + self.flush_seconds - time.monotonic()
            if left <= 0:
                return
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)
