"""What /metrics shows, from the live state at scrape time: today only, owned reps only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from schemas.kpis import Contribution
from schemas.settings import Settings
from streams.live_collector import LiveCollector, render_rep_series
from streams.live_state import CallFacts, LiveState
from streams.routing import RawEvent, route_piece
from tests.factories import cdr_dict, encode, unanswered

SETTINGS = Settings()  # Asia/Shanghai, shift 09:00-18:00
TODAY = date(2026, 11, 26)


class FakeTargets:
    reps = {"rep-1": "team-a", "rep-9": "team-b"}
    teams = ("team-a", "team-b")

    def rep(self, rep_id: str) -> dict:
        if rep_id not in self.reps:
            return {}
        return {("day", "dials"): 100, ("month", "revenue"): Decimal("5000.00")}

    def team(self, team_id: str) -> dict:
        return {("day", "dials"): 100}

    def team_of(self, rep_id: str) -> str | None:
        return self.reps.get(rep_id)


def scrape(collector: LiveCollector) -> dict[tuple, float]:
    registry = CollectorRegistry()
    registry.register(collector)
    samples = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def build(
    now: datetime, owned: set[int], targets: FakeTargets | None = None,
    month: dict | None = None, abandons: dict | None = None,
) -> tuple[LiveState, LiveCollector]:  # fmt: skip
    state = LiveState(today=lambda: now.astimezone(SETTINGS.zone).date())
    for partition in (0, 1):
        state.seed(partition, [])
    collector = LiveCollector(
        SETTINGS, state, exported_partitions=lambda: owned,
        partition_of=lambda rep: 0 if rep < "rep-5" else 1,
        targets=lambda: targets, month_before_today=lambda: month or {},
        campaign_abandons=lambda: abandons or {}, clock=lambda: now,
    )  # fmt: skip
    return state, collector


def feed(state: LiveState, partition: int, *events: dict, now: datetime) -> None:
    raw = [RawEvent(partition, i, b"k", encode(e)) for i, e in enumerate(events)]
    route_piece(raw, state, zone=SETTINGS.zone, valid_call_seconds=30, now=now)


def actual(samples: dict, rep: str, metric: str, period: str = "day") -> float | None:
    for (name, labels), value in samples.items():
        d = dict(labels)
        if name == "callfloor_rep_actual" and (d["rep"], d["metric"], d["period"]) == (rep, metric, period):
            return value
    return None


NOON = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def test_today_actuals_targets_and_month_to_date() -> None:
    state, collector = build(NOON, {0, 1}, FakeTargets(), month={"rep-1": (2, 100_00, 1)})
    feed(state, 0, cdr_dict(rep_id="rep-1"), unanswered(call_id="c-2", rep_id="rep-1"), now=NOON)
    samples = scrape(collector)
    assert actual(samples, "rep-1", "dials") == 2
    assert actual(samples, "rep-1", "revenue") == 1299.0
    assert actual(samples, "rep-1", "revenue", "month") == 1399.0  # 100.00 earlier + 1299.00 today
    assert actual(samples, "rep-1", "sales", "month") == 3
    assert actual(samples, "rep-9", "dials") == 0  # has a target, no calls yet, partition owned
    key = ("callfloor_rep_target", (("metric", "dials"), ("period", "day"), ("rep", "rep-1"),
                                    ("team", "team-a")))  # fmt: skip
    assert samples[key] == 100
    assert samples[("callfloor_shift_active", ())] == 1
    assert samples[("callfloor_shift_elapsed_seconds", ())] == 3 * 3600


def test_rep_of_a_partition_not_owned_is_not_exported() -> None:
    state, collector = build(NOON, {1}, FakeTargets())
    feed(state, 0, cdr_dict(rep_id="rep-1"), now=NOON)
    samples = scrape(collector)
    assert actual(samples, "rep-1", "dials") is None
    assert actual(samples, "rep-9", "dials") == 0


def test_late_cdr_for_yesterday_does_not_move_today() -> None:
    state, collector = build(NOON, {0})
    late = unanswered(dialed_at="2026-11-25T17:00:00+08:00", ended_at="2026-11-25T17:00:20+08:00")
    feed(state, 0, cdr_dict(rep_id="rep-1"), late, now=NOON)
    assert actual(scrape(collector), "rep-1", "dials") == 1


def test_gauges_restart_at_local_midnight() -> None:
    now = [NOON]
    state, _ = build(NOON, {0})
    collector = LiveCollector(
        SETTINGS, state, exported_partitions=lambda: {0}, partition_of=lambda rep: 0,
        targets=lambda: None, month_before_today=dict, campaign_abandons=dict, clock=lambda: now[0],
    )  # fmt: skip
    feed(state, 0, cdr_dict(rep_id="rep-1"), now=NOON)
    assert actual(scrape(collector), "rep-1", "dials") == 1
    now[0] = datetime(2026, 11, 26, 16, 0, 1, tzinfo=UTC)  # 00:00:01 on the 27th in Shanghai
    assert actual(scrape(collector), "rep-1", "dials") is None


def test_abandon_rate_per_campaign() -> None:
    _, collector = build(NOON, {0}, abandons={"camp-1": (3, 97), "camp-2": (0, 0)})
    samples = scrape(collector)
    assert samples[("callfloor_campaign_abandon_rate_30d", (("campaign", "camp-1"),))] == 0.03
    assert ("callfloor_campaign_abandon_rate_30d", (("campaign", "camp-2"),)) not in samples
    assert samples[("callfloor_campaign_live_answers_30d", (("campaign", "camp-2"),))] == 0


class _Families:
    def __init__(self, families: list) -> None:
        self.families = families

    def collect(self) -> list:
        return self.families


def test_rep_series_are_written_byte_for_byte_as_generate_latest_writes_them() -> None:
    """/metrics writes the rep series itself (render_rep_series) for speed; client_python's
    own output for the same families is the reference, names needing escapes included."""
    state, collector = build(NOON, {0, 1}, FakeTargets(), month={"rep-1": (2, 100_00, 1)})
    odd = Contribution(dials=3, connects=2, talk_seconds=75, sales=1, revenue=123_456_789_012)
    state.seed(0, [
        CallFacts("c-1", 1, "rep-1", "team-a", TODAY, Contribution(dials=1).as_tuple()),
        CallFacts("c-2", 1, 'rep "q" \\ back\nslash', "<script>alert(1)</script>", TODAY, odd.as_tuple()),
        CallFacts("c-3", 1, "rep-销售-1", "团队", TODAY, odd.as_tuple()),
    ])  # fmt: skip
    rep_families = [family for family in collector.collect() if family.name.startswith("callfloor_rep_")]
    assert [family.name for family in rep_families] == ["callfloor_rep_actual", "callfloor_rep_target"]
    written = render_rep_series(collector.rep_figures())
    assert written == generate_latest(_Families(rep_families))  # type: ignore[arg-type]  # a list of families stands in for a registry
    assert b"e+09" in written and b'\\"q\\"' in written, "the cases that need care were not exercised"
