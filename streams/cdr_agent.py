"""The CDR agent: validate, deduplicate, count, write to ClickHouse, then let offsets go.

Faust's ``take_events`` acks a batch only when the loop body hands control
back, and the body returns only after ClickHouse acknowledged the batch's rows
and the broker acknowledged its dead letters. So a committed offset never
passes a call that is not stored (invariant 2), and anything replayed after a
crash is already in ClickHouse, where ``FINAL`` reads count it once (invariant 1).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import faust
from clickhouse_connect.driver.client import Client

from schemas.metrics import Contribution, business_day
from schemas.settings import Settings
from sinks.clickhouse.client import connect
from sinks.clickhouse.ddl import apply_schema
from sinks.clickhouse.reads import partition_calls
from sinks.clickhouse.writer import Backoff, CallWriter
from streams.batch import BatchOutcome, RawEvent, process_batch
from streams.dead_letters import send_dead_letters
from streams.live_state import CallFacts, LiveState

log = logging.getLogger(__name__)
T = TypeVar("T")


class CdrPipeline:
    """Everything the agent does with a batch, kept apart from Faust's wiring."""

    def __init__(self, settings: Settings, dlq_topic: faust.TopicT) -> None:
        self.settings = settings
        self.dlq_topic = dlq_topic
        self.state = LiveState(today=self.today)
        self.writer = CallWriter(self._client)
        self._reader: Client | None = None
        self._schema_ready = False
        self.processed = 0
        self.rejected = 0

    def today(self) -> Any:
        return business_day(datetime.now(UTC), self.settings.zone)

    def _client(self) -> Client:
        """A fresh client; the first one also applies the DDL (ClickHouse may start later)."""
        if self._schema_ready:
            return connect(self.settings)
        client = apply_schema(self.settings)
        self._schema_ready = True
        return client

    async def _retrying(self, what: str, fn: Callable[[], T]) -> T:
        """Run blocking ClickHouse work off the loop, retrying with backoff until it succeeds."""
        next_delay = Backoff().delays()
        while True:
            try:
                return await asyncio.to_thread(fn)
            except Exception as exc:  # noqa: BLE001 - ClickHouse away: wait, do not crash
                self._reader = None
                delay = next_delay()
                log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
                await asyncio.sleep(delay)

    def _seed_rows(self, partition: int) -> list[CallFacts]:
        if self._reader is None:
            self._reader = self._client()
        return [
            CallFacts(call_id, rank, rep, team, day, Contribution(*counters))
            for call_id, rank, rep, team, day, *counters in partition_calls(
                self._reader, partition, self.state.first_day
            )
        ]

    async def ensure_seeded(self, partitions: Iterable[int]) -> None:
        for partition in sorted(set(partitions)):
            if not self.state.owns(partition):
                calls = await self._retrying(
                    f"seeding partition {partition}", lambda p=partition: self._seed_rows(p)
                )
                self.state.seed(partition, calls)
                log.info("partition %d: live state seeded with %d calls", partition, len(calls))

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self.state.drop(partition)

    async def handle(self, events: list[RawEvent]) -> BatchOutcome:
        await self.ensure_seeded(event.partition for event in events)
        outcome = process_batch(
            events,
            self.state,
            zone=self.settings.zone,
            valid_call_seconds=self.settings.valid_call_seconds,
            now=datetime.now(UTC),
        )
        await self.writer.write(outcome.rows)
        await send_dead_letters(self.dlq_topic, outcome.dead_letters, self.settings.cdr_topic)
        self.processed += len(events)
        self.rejected += len(outcome.dead_letters)
        return outcome


def install_cdr_agent(app: faust.App, settings: Settings) -> CdrPipeline:
    """Declare the topics and the agent on ``app``; return the pipeline behind it."""
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    cdr_topic = app.topic(settings.cdr_topic, partitions=settings.partitions, **raw)
    dlq_topic = app.topic(settings.dlq_topic, partitions=1, **raw)
    pipeline = CdrPipeline(settings, dlq_topic)

    async def cdr_agent(stream: faust.StreamT) -> None:
        async for events in stream.take_events(
            settings.sink_batch_rows, within=settings.sink_flush_seconds
        ):
            batch = [
                RawEvent(e.message.partition, e.message.offset, e.message.key, e.message.value)
                for e in events
            ]
            await pipeline.handle(batch)

    app.agent(cdr_topic, name="callfloor.cdr_agent")(cdr_agent)

    @app.on_partitions_revoked.connect
    async def _on_revoked(sender: Any, revoked: set, **kwargs: Any) -> None:  # noqa: ARG001
        pipeline.forget(tp.partition for tp in revoked if tp.topic == settings.cdr_topic)

    return pipeline
