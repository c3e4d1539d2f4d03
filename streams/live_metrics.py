"""Wires /metrics into the worker: the registry, the live collector, and the timers
that keep lag, targets and the ClickHouse-backed gauges (month to date, the 30-day and
24-hour abandon rates) fresh. Those come from ClickHouse so they survive restarts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import faust
from clickhouse_connect.driver.client import Client
from kafka.partitioner.default import murmur2
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from schemas.abandon import REGIMES
from schemas.kpis import Counters, business_day
from schemas.settings import Settings
from schemas.targets import TargetsError, TargetSet
from sinks.clickhouse.reads import campaign_abandons, campaign_abandons_after, month_to_date
from sinks.clickhouse.targets import record_targets
from streams.live_collector import LiveCollector, RepFigures, render_rep_series
from streams.pipeline import CdrPipeline
from streams.targets_watch import TargetsWatcher

log = logging.getLogger(__name__)
T = TypeVar("T")


def partition_for(key: str, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), as the dialer's producer uses it for rep_id keys."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class ClickHouseGauges:
    """Values read from ClickHouse now and then; the last good read stays on failure."""

    def __init__(self, settings: Settings, pipeline: CdrPipeline) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.month: dict[str, Counters] = {}
        self.abandons: dict[str, tuple[int, int]] = {}  # the 30-day regime's window
        self.abandons_24h: dict[str, tuple[int, int]] = {}  # the 24-hour regime's window

    async def refresh(self) -> None:
        today = business_day(datetime.now(UTC), self.settings.zone)
        since = today - timedelta(days=REGIMES["30d"].window.days - 1)
        self.month = await self._once(lambda c: month_to_date(c, today.replace(day=1), today)) or self.month
        self.abandons = await self._once(lambda c: campaign_abandons(c, since)) or self.abandons
        after = datetime.now(UTC) - REGIMES["24h"].window
        self.abandons_24h = await self._once(lambda c: campaign_abandons_after(c, after)) or self.abandons_24h

    async def _once(self, fn: Callable[[Client], T]) -> T | None:
        try:
            return await asyncio.to_thread(self.pipeline.with_reader, fn)
        except Exception as exc:  # noqa: BLE001 - keep the last values, try again next time
            log.warning("refreshing ClickHouse-backed gauges failed: %s", exc)
            return None


class TargetsKeeper(Collector):
    """Hot-reloads the targets file and records each version in ClickHouse with its load time."""

    def __init__(self, settings: Settings, pipeline: CdrPipeline) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.watcher = TargetsWatcher(settings.targets_file, on_error=self._rejected)
        self._unrecorded: list[tuple[TargetSet, datetime]] = []  # in force, not yet in ClickHouse
        if settings.targets_file is not None:
            self.watcher.load_initial()  # a bad file at start-up stops the worker, naming the line
            self._remember_current()

    def _remember_current(self) -> None:
        if self.watcher.current is not None and self.watcher.loaded_at is not None:
            self._unrecorded.append((self.watcher.current, self.watcher.loaded_at))

    def in_force(self) -> TargetSet | None:
        """Targets for today: a file saved ahead of its effective_from waits for its day."""
        return self.watcher.in_force(business_day(datetime.now(UTC), self.settings.zone))

    @staticmethod
    def _rejected(error: TargetsError) -> None:
        log.error("targets file refused, previous targets stay in force: %s", error)

    async def tick(self) -> None:
        if await self.watcher.check_async():  # parsed in a thread: a big file must not stall the agent
            log.info("targets reloaded from %s", self.settings.targets_file)
            self._remember_current()
        while self._unrecorded:  # every version that was in force, even briefly, in order
            targets, loaded_at = self._unrecorded[0]
            try:
                await asyncio.to_thread(
                    self.pipeline.with_reader, partial(record_targets, targets=targets, loaded_at=loaded_at)
                )
            except Exception as exc:  # noqa: BLE001 - retried next tick, with the same load time
                log.warning("recording targets in ClickHouse failed: %s", exc)
                return
            self._unrecorded.pop(0)

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily(
            "callfloor_targets_valid", "1 when the targets file on disk is the one in force",
            value=int(self.watcher.last_error is None),
        )  # fmt: skip
        yield CounterMetricFamily(
            "callfloor_targets_reload_errors", "targets files refused since start", value=self.watcher.errors
        )


async def _partition_lags(app: faust.App, settings: Settings, pipeline: CdrPipeline) -> dict[int, int]:
    """Messages behind the high watermark, per assigned partition already fetched from."""
    consumer = app.consumer
    lags: dict[int, int] = {}
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp) if tp.topic == settings.cdr_topic else None
        if highwater is None:  # not fetched from yet: nothing known
            continue
        next_offset = pipeline.next_offsets.get(tp.partition)
        if next_offset is None:
            next_offset = await consumer.position(tp) or 0
        lags[tp.partition] = max(0, highwater - next_offset)
    return lags


class _Collected(Collector):
    """Metric families already collected, for formatting off the event loop."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def collect_scrape(registry: CollectorRegistry, collector: LiveCollector) -> tuple[list[Metric], RepFigures]:
    """What a scrape takes on the event loop (the collector reads state the agent mutates)."""
    figures = collector.rep_figures()
    return [*registry.collect(), *collector.collect_without_reps(figures.targets)], figures


def render_scrape(families: list[Metric], figures: RepFigures) -> bytes:
    """A /metrics body: ``families`` as client_python writes them, then the rep series."""
    return generate_latest(_Collected(families)) + render_rep_series(figures)


def install_live_metrics(
    app: faust.App, settings: Settings, pipeline: CdrPipeline, registry: CollectorRegistry
) -> LiveCollector:
    gauges = ClickHouseGauges(settings, pipeline)
    targets = TargetsKeeper(settings, pipeline)
    collector = LiveCollector(
        settings,
        pipeline.state,
        exported_partitions=pipeline.exported_partitions,
        partition_of=lambda rep: partition_for(rep, pipeline.topic_partitions),
        targets=targets.in_force,
        month_before_today=lambda: gauges.month,
        campaign_abandons=lambda: gauges.abandons,
        campaign_abandons_24h=lambda: gauges.abandons_24h,
    )
    # /metrics is the registry, then the collector: its rep series written by
    # render_rep_series, its other families the registry's way.
    registry.register(targets)

    @app.timer(interval=settings.refresh_seconds, on_leader=False)  # type: ignore[untyped-decorator]  # faust's timer() is untyped
    async def _refresh_clickhouse_gauges() -> None:
        await gauges.refresh()  # failures are logged inside and keep the last values

    @app.timer(interval=settings.targets_reload_seconds, on_leader=False)  # type: ignore[untyped-decorator]  # faust's timer() is untyped
    async def _reload_targets() -> None:
        try:
            await targets.tick()
        except Exception:  # noqa: BLE001 - a targets fault must never stop the worker
            log.exception("targets reload failed; previous targets stay in force")

    measured: set[int] = set()

    @app.timer(interval=2.0, on_leader=False)  # type: ignore[untyped-decorator]  # faust's timer() is untyped
    async def _measure_lag() -> None:
        try:
            lags = await _partition_lags(app, settings, pipeline)
        except Exception:  # noqa: BLE001 - a metrics fault must never stop the worker
            log.exception("measuring consumer lag failed")
            return
        pipeline.metrics.set_lag(settings.cdr_topic, lags, measured - set(lags))
        measured.clear()
        measured.update(lags)

    @app.page("/metrics")
    async def _metrics(self: Any, request: Any) -> Any:
        # Collect on the loop (the collector reads state the agent mutates), then format,
        # the slow part for a big floor, in a thread so the agent keeps flowing.
        families, figures = collect_scrape(registry, collector)
        body = await asyncio.to_thread(render_scrape, families, figures)
        # aiohttp refuses a charset inside content_type, so the full header goes in headers.
        return self.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return collector
