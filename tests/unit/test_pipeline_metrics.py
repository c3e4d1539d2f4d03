"""Pipeline health counters, each test with a fresh registry."""

from __future__ import annotations

from datetime import UTC, date, datetime

from prometheus_client import CollectorRegistry

from schemas.settings import Settings
from streams.live_state import LiveState
from streams.pipeline_metrics import PipelineMetrics
from streams.routing import RawEvent, route_piece
from tests.factories import cdr_dict, encode

NOW = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)


def test_batch_counts_rejects_by_reason_duplicates_and_corrections() -> None:
    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry)
    state = LiveState(today=lambda: date(2026, 11, 26))
    state.seed(0, [])
    events = [cdr_dict(), cdr_dict(), cdr_dict(version=2), b"{", b"[]", b"{"]
    raw = [RawEvent(0, i, b"k", e if isinstance(e, bytes) else encode(e)) for i, e in enumerate(events)]
    outcome = route_piece(raw, state, zone=Settings().zone, valid_call_seconds=30, now=NOW)
    metrics.observe_piece(len(raw), outcome)
    metrics.observe_flush(3, 0.02)
    metrics.observe_sink_failure(RuntimeError("down"))
    metrics.set_lag("cdr", {0: 5, 1: 0}, gone=[])
    metrics.set_lag("cdr", {0: 2}, gone=[1])

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("callfloor_events_processed_total") == 6
    assert value("callfloor_events_rejected_total", reason="invalid_json") == 2
    assert value("callfloor_events_rejected_total", reason="not_an_object") == 1
    assert value("callfloor_duplicates_total") == 1
    assert value("callfloor_corrections_total") == 1
    assert value("callfloor_sink_failures_total") == 1
    assert value("callfloor_sink_flush_seconds_count") == 1
    assert value("callfloor_consumer_lag", topic="cdr", partition="0") == 2
    assert value("callfloor_consumer_lag", topic="cdr", partition="1") is None
    assert value("callfloor_newest_event_age_seconds") > 0
