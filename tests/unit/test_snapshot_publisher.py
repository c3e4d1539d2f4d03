"""What a worker publishes for the wallboard: changed reps only, every rep again after a
rebalance (a new generation), the collector's reps (so /metrics and the board agree),
and a heartbeat once a second even when nothing changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

from prometheus_client import CollectorRegistry

from schemas.kpis import Contribution
from schemas.settings import Settings
from schemas.snapshots import Heartbeat, RepSnapshot
from streams.live_collector import LiveCollector
from streams.live_metrics import partition_for
from streams.live_state import CallFacts, LiveState
from streams.pipeline_metrics import PipelineMetrics
from streams.snapshots import SnapshotPublisher

SETTINGS = Settings(timezone="UTC", partitions=4)
TODAY = date(2026, 12, 1)
NOON = datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp()


def call(call_id: str, rep: str, dials: int = 1, sales: int = 0) -> CallFacts:
    return CallFacts(call_id, 1, rep, "team-a", TODAY, Contribution(dials=dials, sales=sales).as_tuple())


class Clock:
    def __init__(self) -> None:
        self.now = NOON

    def __call__(self) -> float:
        return self.now


def make(month: dict | None = None) -> tuple[LiveState, SnapshotPublisher, dict[str, int], Clock]:
    state = LiveState(today=lambda: TODAY)
    reps = ["rep-1", "rep-2"]
    for rep in reps:
        state.seed(partition_for(rep, SETTINGS.partitions), [])
    generation = {"value": 3}
    pipeline = SimpleNamespace(
        exported_partitions=lambda: set(state.partitions),
        metrics=PipelineMetrics(CollectorRegistry()),
    )
    collector = LiveCollector(
        SETTINGS, state, exported_partitions=pipeline.exported_partitions,
        partition_of=lambda rep: partition_for(rep, SETTINGS.partitions), targets=lambda: None,
        month_before_today=lambda: month or {}, campaign_abandons=lambda: {"camp": (2, 98)},
    )  # fmt: skip
    clock = Clock()
    publisher = SnapshotPublisher(SETTINGS, pipeline, collector, lambda: generation["value"], clock)
    return state, publisher, generation, clock


def reps_in(messages: list) -> dict[str, RepSnapshot]:
    return {m.rep_id: m for m in messages if isinstance(m, RepSnapshot)}


def test_only_changed_reps_are_published_again() -> None:
    state, publisher, _, clock = make(month={"rep-1": (4, 0, 0)})
    state.apply(partition_for("rep-1", 4), call("c1", "rep-1", sales=1))
    state.apply(partition_for("rep-2", 4), call("c2", "rep-2"))
    first = reps_in(publisher.due())
    assert set(first) == {"rep-1", "rep-2"}
    assert first["rep-1"].today["dials"] == 1 and first["rep-1"].month["sales"] == 5
    assert first["rep-1"].generation == 3 and first["rep-1"].day == "2026-12-01"
    assert first["rep-1"].partition == partition_for("rep-1", 4)
    clock.now += 0.25
    assert reps_in(publisher.due()) == {}
    state.apply(partition_for("rep-2", 4), call("c3", "rep-2"))
    clock.now += 0.25
    assert {rep: m.today["dials"] for rep, m in reps_in(publisher.due()).items()} == {"rep-2": 2}


def test_a_new_generation_publishes_every_rep_again() -> None:
    state, publisher, generation, clock = make()
    state.apply(partition_for("rep-1", 4), call("c1", "rep-1"))
    publisher.due()
    generation["value"] = 4
    clock.now += 0.25
    again = reps_in(publisher.due())
    assert set(again) == {"rep-1"} and again["rep-1"].generation == 4


def test_a_revoked_partition_is_not_published() -> None:
    state, publisher, _, _ = make()
    state.apply(partition_for("rep-1", 4), call("c1", "rep-1"))
    state.drop(partition_for("rep-1", 4))
    assert reps_in(publisher.due()) == {}


def test_heartbeat_once_a_second_even_when_idle() -> None:
    _, publisher, _, clock = make()
    beats = []
    for _ in range(8):
        beats += [m for m in publisher.due() if isinstance(m, Heartbeat)]
        clock.now += 0.25
    assert len(beats) == 2
    assert beats[0].campaigns == {"camp": (2, 98)} and beats[0].partition_count == 4
    assert beats[0].partitions == sorted({partition_for(r, 4) for r in ("rep-1", "rep-2")})
    assert beats[0].lag == 0
