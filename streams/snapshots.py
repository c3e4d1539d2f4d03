"""Per-rep snapshots for the wallboard, published to a compacted topic.

Every ``snapshot_interval_seconds`` the worker publishes the reps of the partitions it
reports (``pipeline.exported_partitions()``, the same set /metrics exports) whose
numbers changed since it last published them, and once a second a heartbeat, also
when idle. Each message carries the consumer-group generation, so a reader can tell
the current owner of a partition from one that lost it in a rebalance. When the
generation changes every rep is published again, so the new owner's copy of a moved
rep always reaches the wallboard.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import faust
from prometheus_client import Gauge

from schemas.kpis import COUNTER_NAMES, MONTHLY_COUNTERS, Contribution, business_day
from schemas.settings import Settings
from schemas.snapshots import Heartbeat, Message, RepSnapshot, encode, key_of
from streams.live_collector import LiveCollector
from streams.live_metrics import partition_for
from streams.pipeline import CdrPipeline
from streams.topics import SNAPSHOT_PARTITIONS

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 1.0
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
        reps: dict[str, tuple[str, Contribution]] = self.collector._reps_today(
            today, self.collector.targets()
        )
        month_before = self.collector.month_before_today()
        day = today.isoformat()
        out: list[Message] = []
        for rep, (team, counters) in reps.items():
            today_values = counters.as_tuple()
            before = month_before.get(rep, _NO_MONTH)
            month_values = tuple(
                b + getattr(counters, c.name) for c, b in zip(MONTHLY_COUNTERS, before, strict=True)
            )
            fingerprint = (day, team, today_values, month_values)
            if self._published.get(rep) == fingerprint:
                continue
            self._published[rep] = fingerprint
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
        )


def install_snapshots(
    app: faust.App, settings: Settings, pipeline: CdrPipeline, collector: LiveCollector
) -> SnapshotPublisher:
    """Publish snapshots from a timer on every worker (not only the leader)."""
    topic = app.topic(
        settings.snapshot_topic,
        partitions=SNAPSHOT_PARTITIONS,
        compacting=True,
        key_serializer="raw",
        value_serializer="raw",
    )
    publisher = SnapshotPublisher(
        settings, pipeline, collector, generation=lambda: int(getattr(app, "consumer_generation_id", 0) or 0)
    )
    declared = False

    @app.timer(interval=settings.snapshot_interval_seconds, on_leader=False)
    async def _publish_snapshots() -> None:
        nonlocal declared
        try:
            if not declared:
                await topic.maybe_declare()
                declared = True
            for message in publisher.due():
                await topic.send(key=key_of(message), value=encode(message))
        except Exception:  # noqa: BLE001 - the wallboard's feed must never stop the worker
            publisher.forget()
            log.exception("publishing wallboard snapshots failed")

    return publisher
