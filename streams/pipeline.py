"""What the CDR agent does with the records it reads, kept apart from Faust's wiring.

Records are counted into the live state as they arrive (:meth:`CdrPipeline.count`) and
stored later, several chunks together (:meth:`CdrPipeline.write_rows`, then
:meth:`CdrPipeline.send_dead_letters`, each returning only once ClickHouse or the broker
acknowledged). The order, and the rule that offsets are acked (and later committed) only
after both, are in one place, :func:`streams.cdr_agent.cdr_flow`: a committed offset never
passes a call that is not stored (invariant 2), and anything replayed after a crash is
already in ClickHouse, where ``FINAL`` reads count it once (invariant 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol, TypeVar

import faust
from clickhouse_connect.driver.client import Client

from schemas.kpis import business_day
from schemas.settings import Settings
from sinks.clickhouse.calls import Row
from sinks.clickhouse.client import connect
from sinks.clickhouse.reads import partition_calls
from sinks.clickhouse.schema_version import check_schema
from sinks.clickhouse.writer import CallWriter
from streams.dead_letters import send_dead_letters
from streams.live_state import NO_COUNTS, CallFacts, LiveState
from streams.pipeline_metrics import PipelineMetrics
from streams.retry import retry_forever
from streams.routing import DeadLetter, KafkaRecord, PieceOutcome, route_piece

log = logging.getLogger(__name__)
T = TypeVar("T")
# Chunks as counted: each chunk's records with what counting them produced.
Counted = list[tuple[Sequence[KafkaRecord], PieceOutcome]]


class RowWriter(Protocol):
    """Where counted calls' rows are stored: one attempt per call, raising when not stored
    (:class:`~sinks.clickhouse.writer.CallWriter`; tests pass their own)."""

    async def write(self, rows: Sequence[Row]) -> None: ...

    def connect(self) -> None:
        """Open the connection ahead of the first write (blocking; may raise: the write retries)."""


class CdrPipeline:
    def __init__(
        self,
        settings: Settings,
        dlq_topic: faust.TopicT,
        metrics: PipelineMetrics,
        writer: RowWriter | None = None,
    ) -> None:
        """``writer`` defaults to ClickHouse's, through this pipeline's schema-checked client."""
        self.settings = settings
        self.dlq_topic = dlq_topic
        self.metrics = metrics
        self.state = LiveState(today=self.today)
        self.writer: RowWriter = writer or CallWriter(
            self.client, on_flush=metrics.observe_flush, on_failure=metrics.observe_sink_failure
        )
        self._reader: Client | None = None
        self.schema_ready = False  # ClickHouse's schema version was seen to match this worker's
        self._seeding = asyncio.Lock()
        self.assigned: set[int] = set()  # partitions of the CDR topic this worker holds now
        self.next_offsets: dict[int, int] = {}
        # The CDR topic's real partition count (from the consumer's metadata at assignment):
        # where reps that have a target but no calls yet belong.
        self.topic_partitions = settings.partitions
        # Set whenever a chunk has been counted into the live state (before its write is
        # acknowledged, as /metrics shows it): the wallboard's snapshots go out then.
        self.counted = asyncio.Event()

    def today(self) -> date:
        return business_day(datetime.now(UTC), self.settings.zone)

    def client(self) -> Client:
        """A fresh client. Until the schema was once seen to be this worker's, each call checks
        it and raises :class:`SchemaNotReady` (the callers retry): the worker never applies
        DDL itself, ``callfloor migrate`` does (sinks/clickhouse/schema_version.py)."""
        if self.schema_ready:
            return connect(self.settings)
        client = check_schema(self.settings)
        self.schema_ready = True
        return client

    async def retrying(self, what: str, fn: Callable[[Client], T]) -> T:
        """Blocking ClickHouse work off the loop, retried (``streams.retry``) until it succeeds;
        a failed attempt drops the reader, so the next one opens a fresh client."""

        def drop_reader(_: BaseException) -> None:
            self._reader = None

        return await retry_forever(
            what, lambda: asyncio.to_thread(self.with_reader, fn), before_retry=drop_reader, logger=log
        )

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

                def read(client: Client, p: int = partition, s: date = since) -> list[Sequence[Any]]:
                    return list(partition_calls(client, p, s))

                rows = await self.retrying(f"seeding partition {partition}", read)
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

    async def count(self, records: Sequence[KafkaRecord]) -> PieceOutcome:
        """Validate ``records`` and count them into the live state now: /metrics and the
        wallboard show them at once. Their rows and dead letters are stored by a later flush
        (:func:`streams.cdr_agent.cdr_flow`), and their offsets are acked only after that."""
        await self.ensure_seeded({record.partition for record in records})
        outcome = route_piece(
            records,
            self.state,
            zone=self.settings.zone,
            valid_call_seconds=self.settings.valid_call_seconds,
            now=datetime.now(UTC),
            rules=self.settings.cdr_rules,
        )
        self.counted.set()
        return outcome

    async def write_rows(self, rows: Sequence[Row]) -> None:
        """Write ``rows`` (one insert); returns only once ClickHouse acknowledged them, retried
        (``streams.retry``) until it does. Cancellation (the worker stopping) cancels the write."""
        await retry_forever(
            f"ClickHouse write of {len(rows)} rows", lambda: self.writer.write(rows), logger=log
        )

    async def send_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Publish ``letters`` to the dead-letter topic; returns only once the broker acknowledged
        every one, retried like :meth:`write_rows`."""
        await retry_forever(
            f"sending {len(letters)} dead letters",
            lambda: send_dead_letters(self.dlq_topic, letters, self.settings.cdr_topic),
            logger=log,
        )

    def note_stored(self, counted: Counted) -> None:
        """Record chunks whose rows and dead letters are stored: the next offset of each
        partition (what /metrics' lag reads) and the pipeline metrics."""
        for records, outcome in counted:
            for record in records:
                self.next_offsets[record.partition] = record.offset + 1
            self.metrics.observe_piece(len(records), outcome)
