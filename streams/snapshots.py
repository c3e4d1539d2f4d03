"""Per-rep snapshots for the wallboard, published to a compacted topic.

A round publishes the reps of the partitions the worker reports
(``pipeline.exported_partitions()``, the same set /metrics exports) whose numbers changed
since it last published them, and once a second a heartbeat, also when idle. A round
starts as soon as a batch has been counted into the live state (rounds spaced by
``MIN_ROUND_GAP_SECONDS`` and by five times their own cost), and at least every
``snapshot_interval_seconds`` otherwise (seeding, rebalances, heartbeats). Each message
carries the consumer-group generation, so a reader can tell the current owner of a
partition from one that lost it in a rebalance. When the generation changes every rep is
published again, so the new owner's copy of a moved rep always reaches the wallboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from prometheus_client import Gauge

from schemas.kpis import COUNTER_NAMES, MONTHLY_COUNTERS, Contribution, business_day
from schemas.settings import Settings
from schemas.snapshots import Heartbeat, Message, RepSnapshot, encode, key_of
from streams.kafka_config import aiokafka_config, started
from streams.live_collector import LiveCollector
from streams.live_metrics import partition_for
from streams.pipeline import CdrPipeline
from streams.topics import ensure_topics

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 1.0
# Rounds follow the counted chunks, at most one per MIN_ROUND_GAP_SECONDS, and a round's own
# CPU spaced out ROUND_COST_SPACING times: a round compares every rep of the day on the
# event loop (0.07-0.35 s with 10,000 reps on this busy machine), so rounds never take over
# a fifth of it; on a fixed 0.25 s timer such rounds could take most of it.
MIN_ROUND_GAP_SECONDS = 0.05
ROUND_COST_SPACING = 5.0
SNAPSHOT_BATCH_BYTES = 1 << 20
_NO_MONTH = (0,) * len(MONTHLY_COUNTERS)

Fingerprint = tuple[str, str, tuple[int, ...], tuple[int, ...]]


def worker_id() -> str:
    """Unique per process, readable in logs: host, pid and a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _gauge_total(gauge: Gauge) -> float:
    return sum(sample.value for metric in gauge.collect() for sample in metric.samples)


class SnapshotPublisher:
    """Decides what to publish; sending is the caller's (so this part needs no broker)."""

    def __init__(
        self,
        settings: Settings,
        pipeline: CdrPipeline,
        collector: LiveCollector,
        generation: Callable[[], int],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.collector = collector
        self.generation = generation
        self.clock = clock
        self.worker = worker_id()
        self._published: dict[str, Fingerprint] = {}
        self._published_generation: int | None = None
        self._last_heartbeat = 0.0

    def forget(self) -> None:
        """Publish every rep again next time (a send failed part-way)."""
        self._published.clear()

    def due(self) -> list[Message]:
        now = self.clock()
        generation = self.generation()
        if generation != self._published_generation:
            self._published.clear()
            self._published_generation = generation
        today = business_day(datetime.fromtimestamp(now, UTC), self.settings.zone)
        messages: list[Message] = self._changed_reps(today, generation, now)
        if messages or now - self._last_heartbeat >= HEARTBEAT_SECONDS:
            messages.append(self.heartbeat(generation, now))
            self._last_heartbeat = now
        return messages

    def _changed_reps(self, today: date, generation: int, now: float) -> list[Message]:
        # The collector's own selection, so the wallboard and /metrics show the same reps.
        reps: dict[str, tuple[str, Contribution]] = self.collector.reps_today(
            today, self.collector.targets()
        )
        month_before = self.collector.month_before_today()
        day = today.isoformat()
        out: list[Message] = []
        for rep, (team, counters) in reps.items():
            today_values = counters.as_tuple()
            before = month_before.get(rep, _NO_MONTH)
            fingerprint = (day, team, today_values, before)  # the month follows from these
            if self._published.get(rep) == fingerprint:
                continue
            self._published[rep] = fingerprint
            month_values = tuple(
                b + getattr(counters, c.name) for c, b in zip(MONTHLY_COUNTERS, before, strict=True)
            )
            out.append(RepSnapshot(
                rep_id=rep, team_id=team, day=day,
                today=dict(zip(COUNTER_NAMES, today_values, strict=True)),
                month=dict(zip((c.name for c in MONTHLY_COUNTERS), month_values, strict=True)),
                partition=partition_for(rep, self.settings.partitions),
                worker=self.worker, generation=generation, ts=now,
            ))  # fmt: skip
        return out

    def heartbeat(self, generation: int, now: float) -> Heartbeat:
        return Heartbeat(
            worker=self.worker,
            generation=generation,
            partitions=sorted(self.pipeline.exported_partitions()),
            partition_count=self.settings.partitions,
            ts=now,
            last_processed=_gauge_total(self.pipeline.metrics.last_processed),
            lag=int(_gauge_total(self.pipeline.metrics.lag)),
            campaigns=dict(self.collector.campaign_abandons()),
            campaigns_24h=dict(self.collector.campaign_abandons_24h()),
        )


def _log_undelivered(sent: asyncio.Future[Any]) -> None:
    if not sent.cancelled() and sent.exception() is not None:
        log.warning("a wallboard snapshot was not delivered: %s", sent.exception())


def snapshot_producer(settings: Settings) -> AIOKafkaProducer:
    """A producer of its own, not Faust's: a round of snapshots (one per changed rep) fits one
    batch, so sending never waits for a full batch to drain, and the worker's dead letters
    never queue behind the wallboard's traffic (a full-batch wait measured about 0.3 s)."""
    return AIOKafkaProducer(
        **aiokafka_config(settings),
        client_id=f"{settings.app_id}-snapshots",
        acks=1,  # a lost snapshot is replaced by the next one
        linger_ms=0,
        max_batch_size=SNAPSHOT_BATCH_BYTES,
    )


async def publish_rounds(
    publisher: SnapshotPublisher,
    send: Callable[[list[Message]], Awaitable[None]],
    counted: asyncio.Event,
    interval: float,
    min_gap: float = MIN_ROUND_GAP_SECONDS,
) -> None:
    """Publish a round once ``counted`` is set, else every ``interval``; after a round, wait
    ``min_gap`` or ``ROUND_COST_SPACING`` times what it cost, whichever is longer. Waiting on
    a timer instead cost the page up to a whole interval (0.25 s) after /metrics already
    showed a batch. A failed round publishes every rep next time."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(counted.wait(), interval)
        counted.clear()
        # The round's CPU, not its wall time: on a busy machine a round also waits for a
        # core, and spacing rounds by that held snapshots back (p99 0.94 s against /metrics'
        # 0.59 s in the wallboard benchmark).
        started, cpu_started = time.monotonic(), time.thread_time()
        try:
            await send(publisher.due())
        except Exception:  # noqa: BLE001 - the wallboard's feed must never stop the worker
            publisher.forget()
            log.exception("publishing wallboard snapshots failed")
        cost = time.thread_time() - cpu_started
        await asyncio.sleep(max(min_gap, ROUND_COST_SPACING * cost) - (time.monotonic() - started))


def install_snapshots(
    app: faust.App, settings: Settings, pipeline: CdrPipeline, collector: LiveCollector
) -> SnapshotPublisher:
    """Publish snapshots from a task on every worker (not only the leader)."""
    publisher = SnapshotPublisher(
        settings, pipeline, collector, generation=lambda: int(getattr(app, "consumer_generation_id", 0) or 0)
    )
    producer: AIOKafkaProducer | None = None

    async def send(messages: list[Message]) -> None:
        nonlocal producer
        if producer is None:
            await asyncio.to_thread(ensure_topics, settings)
            producer = await started(snapshot_producer(settings), settings)
        for message in messages:
            # appended to the open batch at once; delivery is not awaited (next round)
            sent = await producer.send(settings.snapshot_topic, encode(message), key=key_of(message))
            sent.add_done_callback(_log_undelivered)

    @app.task  # type: ignore[untyped-decorator]  # faust's task() is untyped
    async def _publish_snapshots() -> None:
        await publish_rounds(publisher, send, pipeline.counted, settings.snapshot_interval_seconds)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]  # mode's handler type wants *args
    async def _stop_producer(_sender: Any, **_kwargs: Any) -> None:
        if producer is not None:
            await producer.stop()

    return publisher
