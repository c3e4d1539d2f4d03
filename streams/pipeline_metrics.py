"""Pipeline health for ops: what the worker did, how far behind it is, how the sink fares.

A registry is passed in (tests make a fresh one each); nothing registers globally.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.live_state import Verdict
from streams.routing import PieceOutcome

FLUSH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class PipelineMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.processed = Counter(
            "callfloor_events_processed", "CDR messages handled (accepted or rejected)", registry=registry
        )
        self.rejected = Counter(
            "callfloor_events_rejected", "CDRs sent to the dead-letter topic", ["reason"], registry=registry
        )
        self.duplicates = Counter(
            "callfloor_duplicates", "CDRs ignored: a copy or an older version was seen", registry=registry
        )
        self.corrections = Counter(
            "callfloor_corrections", "CDRs that replaced a lower version of their call", registry=registry
        )
        self.lag = Gauge(
            "callfloor_consumer_lag", "messages not yet processed", ["topic", "partition"], registry=registry
        )
        self.newest_event_age = Gauge(
            "callfloor_newest_event_age_seconds", "now minus dialed_at of the newest CDR", registry=registry
        )
        self.last_processed = Gauge(
            "callfloor_last_event_processed_timestamp_seconds",
            "when this worker last processed any event",
            registry=registry,
        )
        self.flush_seconds = Histogram(
            "callfloor_sink_flush_seconds", "ClickHouse insert duration", buckets=FLUSH_BUCKETS,
            registry=registry,
        )  # fmt: skip
        self.sink_failures = Counter(
            "callfloor_sink_failures", "ClickHouse writes that failed and were retried", registry=registry
        )
        self.sink_last_success = Gauge(
            "callfloor_sink_last_success_timestamp_seconds", "last acknowledged ClickHouse write",
            registry=registry,
        )  # fmt: skip
        self._newest_event: float | None = None
        self.newest_event_age.set_function(self._age)
        # Start-up counts as activity: a worker catching up is not "stalled since 1970".
        self.last_processed.set(time.time())

    def _age(self) -> float:
        """NaN until a first CDR is seen, so "no data" never reads as "fresh"."""
        return math.nan if self._newest_event is None else max(0.0, time.time() - self._newest_event)

    def observe_piece(self, events: int, outcome: PieceOutcome) -> None:
        self.processed.inc(events)
        for letter in outcome.dead_letters:
            self.rejected.labels(letter.reason.value).inc()
        self.duplicates.inc(outcome.verdicts[Verdict.STALE])
        self.corrections.inc(outcome.verdicts[Verdict.CORRECTION])
        if outcome.newest_event is not None:
            newest = outcome.newest_event.timestamp()
            self._newest_event = max(newest, self._newest_event or newest)
        self.last_processed.set(time.time())

    def observe_flush(self, rows: int, seconds: float) -> None:
        self.flush_seconds.observe(seconds)
        self.sink_last_success.set(time.time())

    def observe_sink_failure(self, exc: BaseException) -> None:
        self.sink_failures.inc()

    def set_lag(self, topic: str, lags: dict[int, int], gone: Iterable[int]) -> None:
        for partition, lag in lags.items():
            self.lag.labels(topic, str(partition)).set(lag)
        for partition in gone:
            self.lag.remove(topic, str(partition))
