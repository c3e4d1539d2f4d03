"""What the CDR agent does with a batch, kept apart from Faust's wiring.

The batch body returns only after ClickHouse acknowledged the batch's rows and
the broker acknowledged its dead letters; Faust acks (and later commits) the
batch's offsets only then, so a committed offset never passes a call that is not
stored (invariant 2), and anything replayed after a crash is already in
ClickHouse, where ``FINAL`` reads count it once (invariant 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import TypeVar

import faust
from clickhouse_connect.driver.client import Client

from schemas.kpis import business_day
from schemas.settings import Settings
from sinks.clickhouse.client import connect
from sinks.clickhouse.ddl import apply_schema
from sinks.clickhouse.reads import partition_calls
from sinks.clickhouse.writer import Backoff, CallWriter
from streams.dead_letters import send_dead_letters
from streams.live_state import NO_COUNTS, CallFacts, LiveState
from streams.pipeline_metrics import PipelineMetrics
from streams.routing import KafkaRecord, PieceOutcome, route_piece

log = logging.getLogger(__name__)
T = TypeVar("T")

# Rows per ClickHouse insert within a batch; a batch of more is written in overlapping pieces.
WRITE_PIECE_ROWS = 5000


class CdrPipeline:
    def __init__(self, settings: Settings, dlq_topic: faust.TopicT, metrics: PipelineMetrics) -> None:
        self.settings = settings
        self.dlq_topic = dlq_topic
        self.metrics = metrics
        self.state = LiveState(today=self.today)
        self.writer = CallWriter(
            self.client, on_flush=metrics.observe_flush, on_failure=metrics.observe_sink_failure
        )
        self._reader: Client | None = None
        self._schema_ready = False
        self._seeding = asyncio.Lock()
        self.assigned: set[int] = set()  # partitions of the CDR topic this worker holds now
        self.next_offsets: dict[int, int] = {}
        # The CDR topic's real partition count (from the consumer's metadata at assignment):
        # where reps that have a target but no calls yet belong.
        self.topic_partitions = settings.partitions
        # Set whenever a piece has been counted into the live state (before its write is
        # acknowledged, as /metrics shows it): the wallboard's snapshots go out then.
        self.counted = asyncio.Event()

    def today(self) -> date:
        return business_day(datetime.now(UTC), self.settings.zone)

    def client(self) -> Client:
        """A fresh client; the first one also applies the DDL (ClickHouse may start later)."""
        if self._schema_ready:
            return connect(self.settings)
        client = apply_schema(self.settings)
        self._schema_ready = True
        return client

    async def retrying(self, what: str, fn: Callable[[Client], T]) -> T:
        """Blocking ClickHouse work off the loop, retried with backoff until it succeeds."""
        next_delay = Backoff().delays()
        while True:
            try:
                return await asyncio.to_thread(self.with_reader, fn)
            except Exception as exc:  # noqa: BLE001 - ClickHouse away: wait, do not crash
                self._reader = None
                delay = next_delay()
                log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
                await asyncio.sleep(delay)

    def with_reader(self, fn: Callable[[Client], T]) -> T:
        if self._reader is None:
            self._reader = self.client()
        return fn(self._reader)

    def exported_partitions(self) -> set[int]:
        """Partitions whose reps this worker reports: held now, and seeded."""
        return {p for p in self.assigned if self.state.owns(p)}

    async def ensure_seeded(self, partitions: Iterable[int]) -> None:
        """Seed from ClickHouse the partitions this worker holds and has no state for. A
        partition it no longer holds is never seeded: its state would be stale by the
        time the partition came back."""
        async with self._seeding:
            for partition in sorted(set(partitions) & self.assigned):
                if self.state.owns(partition):
                    continue
                since = self.state.first_day
                rows = await self.retrying(
                    f"seeding partition {partition}",
                    lambda client, p=partition, s=since: list(partition_calls(client, p, s)),
                )
                if partition not in self.assigned:  # revoked while ClickHouse answered
                    continue
                calls = [CallFacts(call_id, rank, rep, team, day, tuple(counters))
                         for call_id, rank, rep, team, day, home, *counters in rows
                         if home == partition]  # fmt: skip
                # a call whose winning version lives on another partition (a correction that
                # changed its rep) is remembered, so an old copy cannot count again, but
                # counts for nothing here and puts no rep on this partition's figures
                superseded = [CallFacts(call_id, rank, rep, team, day, NO_COUNTS)
                              for call_id, rank, rep, team, day, home, *_ in rows
                              if home != partition]  # fmt: skip
                self.state.seed(partition, calls, superseded)
                log.info("partition %d: live state seeded with %d calls", partition, len(rows))

    def on_revoked(self, partitions: Iterable[int]) -> None:
        """Stop reporting at once; the state is kept in case the partition comes back."""
        self.assigned.difference_update(partitions)

    def take_assignment(self, partitions: set[int]) -> None:
        """Hold ``partitions`` from now on; forget the state of every other partition."""
        self.assigned = set(partitions)
        for partition in list(self.state.partitions):
            if partition not in partitions:
                self.state.drop(partition)
                self.next_offsets.pop(partition, None)

    async def seed_assigned(self) -> None:
        """Seed what arrived, so its reps show within seconds (may wait for ClickHouse)."""
        await self.ensure_seeded(self.assigned)
        with contextlib.suppress(Exception):  # ClickHouse away: the first write retries anyway
            await asyncio.to_thread(self.writer.connect)

    async def handle_until_done(self, events: list[KafkaRecord]) -> None:
        """Never let a batch go unfinished: on any exception the batch's partitions are
        re-seeded from ClickHouse (what is really stored) and the batch is tried again.
        Cancellation (the worker stopping: SIGTERM, SIGINT, a cancelled task) is not
        caught: the agent then never marks the batch's chunks done, so their offsets are
        neither acked nor committed, and whoever holds the partitions next replays them."""
        next_delay = Backoff().delays()
        while True:
            try:
                await self.handle(events)
                return
            except Exception:  # noqa: BLE001 - anything at all: retry rather than lose
                delay = next_delay()
                log.exception("batch of %d events failed; retrying in %.1fs", len(events), delay)
                for partition in {event.partition for event in events}:
                    self.state.drop(partition)
                await asyncio.sleep(delay)

    async def handle(self, events: list[KafkaRecord]) -> None:
        """Process the batch in pieces, each written while the next is processed: ClickHouse
        parses one piece on the other core while this one validates and counts the next.
        Returns only when every piece is written and every dead letter sent."""
        await self.ensure_seeded(event.partition for event in events)
        now = datetime.now(UTC)
        outcomes: list[tuple[int, PieceOutcome]] = []
        writes: list[asyncio.Future[None]] = []
        try:
            for start in range(0, len(events), WRITE_PIECE_ROWS):
                piece = events[start : start + WRITE_PIECE_ROWS]
                outcome = route_piece(
                    piece,
                    self.state,
                    zone=self.settings.zone,
                    valid_call_seconds=self.settings.valid_call_seconds,
                    now=now,
                    rules=self.settings.cdr_rules,
                )
                outcomes.append((len(piece), outcome))
                self.counted.set()
                writes.append(asyncio.ensure_future(self.writer.write(outcome.rows)))
                await asyncio.sleep(0)  # let the write start before the next piece
            await asyncio.gather(*writes)
        except BaseException:
            for write in writes:  # a stopping worker must not wait for ClickHouse to return
                write.cancel()
            raise
        letters = [letter for _, outcome in outcomes for letter in outcome.dead_letters]
        await send_dead_letters(self.dlq_topic, letters, self.settings.cdr_topic)
        for event in events:
            self.next_offsets[event.partition] = event.offset + 1
        for count, outcome in outcomes:
            self.metrics.observe_piece(count, outcome)
