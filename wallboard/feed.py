"""Reads the snapshot topic into the floor: every partition, from the beginning, no group.

No consumer group, so any number of wallboard processes each read everything and need
no coordination (and kafka-python's group consumer, which Tansu does not serve, is not
involved). The topic is compacted, so reading it from the start costs one message per
rep and per worker, not the day's history.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

import msgspec
from aiokafka import AIOKafkaConsumer

from schemas.settings import Settings
from schemas.snapshots import decode
from streams.kafka_config import aiokafka_config, started
from streams.topics import ensure_topics
from wallboard.floor import Floor

log = logging.getLogger(__name__)

# Tansu answers a waiting fetch soon after a snapshot is written (measured here: about
# 20 ms later with a 100 ms wait, 6 ms with 20 ms, but about 130 ms with 1 s); a 20 ms wait
# cost an idle wallboard about 4 % more CPU in the wallboard benchmark, for 15 ms.
FETCH_WAIT_MS = 100
# How soon a topic created after the wallboard started (no worker yet) is noticed.
METADATA_MAX_AGE_MS = 2000


class SnapshotFeed:
    def __init__(self, settings: Settings, floor: Floor) -> None:
        self.settings = settings
        self.floor = floor
        self.changed = asyncio.Event()
        self.bad_messages = 0

    async def run(self) -> None:
        """Consume until cancelled; reconnect with a pause if the broker goes away."""
        while True:
            consumer = AIOKafkaConsumer(
                **aiokafka_config(self.settings),
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=FETCH_WAIT_MS,
                client_id="callfloor-wallboard",
                metadata_max_age_ms=METADATA_MAX_AGE_MS,
            )
            try:
                # Created here too (compacted), so a wallboard started first never lets the
                # broker auto-create it as a plain topic.
                await asyncio.to_thread(ensure_topics, self.settings)
                await started(consumer, self.settings)
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker away: the stale banner says so; retry
                log.warning("reading %s failed (%s); retrying", self.settings.snapshot_topic, exc)
            finally:
                await consumer.stop()
            await asyncio.sleep(1.0)

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        # Without a group_id, aiokafka assigns a subscribed topic's partitions itself, all of
        # them, once its metadata shows them (also when the topic is created later).
        consumer.subscribe([self.settings.snapshot_topic])
        log.info("reading %s from the beginning", self.settings.snapshot_topic)
        while True:
            batches = await consumer.getmany(timeout_ms=FETCH_WAIT_MS, max_records=10_000)
            self.apply(record.value for records in batches.values() for record in records)

    def apply(self, values: Iterable[bytes | None]) -> None:
        now = time.time()
        changed = False
        for value in values:
            if value is None:  # a tombstone: nothing to show
                continue
            try:
                changed |= self.floor.apply(decode(value), now)
            except (msgspec.DecodeError, msgspec.ValidationError):
                self.bad_messages += 1
        if changed:
            self.changed.set()
