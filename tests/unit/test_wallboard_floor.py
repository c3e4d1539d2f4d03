"""Which worker's snapshot of a rep the wallboard shows, and when the floor counts as stale."""

from __future__ import annotations

import pytest

from schemas.snapshots import Heartbeat, RepSnapshot, decode, encode, key_of
from wallboard.floor import Floor

DAY = "2026-12-01"


def snap(rep: str, dials: int, worker: str, generation: int, ts: float, partition: int = 0) -> RepSnapshot:
    return RepSnapshot(rep, "team-a", DAY, {"dials": dials}, {"sales": 0}, partition, worker, generation, ts)


def beat(worker: str, generation: int, partitions: list[int], ts: float, lag: int = 0,
         last_processed: float | None = None, count: int = 2) -> Heartbeat:  # fmt: skip
    processed = ts if last_processed is None else last_processed
    return Heartbeat(worker, generation, partitions, count, ts, processed, lag, {"camp": (1, 99)})


def test_messages_round_trip_and_keys() -> None:
    s, b = snap("r1", 3, "w1", 4, 10.0), beat("w1", 4, [0], 10.0)
    assert decode(encode(s)) == s and decode(encode(b)) == b
    assert key_of(s) == b"r1" and key_of(b).startswith(b"\x00heartbeat:")


def test_after_a_rebalance_the_new_owner_wins_even_if_the_old_one_writes_last() -> None:
    floor = Floor(10.0, started=0.0)
    floor.apply(beat("old", 1, [0], 100.0), 100.0)
    floor.apply(beat("new", 2, [0], 100.0), 100.0)
    assert floor.apply(snap("r1", 10, "old", 1, 100.0), 100.0)
    assert floor.apply(snap("r1", 12, "new", 2, 101.0), 101.0)
    # the old owner's last snapshot, computed before it was revoked, arrives late
    assert not floor.apply(snap("r1", 11, "old", 1, 102.0), 102.0)
    assert [(r.rep_id, r.today["dials"], r.worker) for r in floor.reps_of_day(DAY)] == [("r1", 12, "new")]


def test_a_rep_is_shown_once_whichever_workers_published_it() -> None:
    floor = Floor(10.0, started=0.0)
    for generation, worker in enumerate(["a", "b", "a", "c"], 1):
        floor.apply(snap("r1", generation, worker, generation, float(generation)), float(generation))
    assert [r.rep_id for r in floor.reps_of_day(DAY)] == ["r1"]
    assert floor.reps["r1"].worker == "c"


def test_a_restarted_generation_count_wins_over_a_dead_worker() -> None:
    floor = Floor(10.0, started=0.0)
    floor.apply(beat("gone", 7, [0], 100.0), 100.0)
    floor.apply(snap("r1", 5, "gone", 7, 100.0), 100.0)
    floor.apply(beat("fresh", 1, [0], 200.0), 200.0)
    assert floor.apply(snap("r1", 6, "fresh", 1, 200.0), 200.0)  # "gone" silent for 100 s
    assert floor.reps["r1"].worker == "fresh"


def test_a_lower_generation_from_a_live_worker_does_not_win() -> None:
    floor = Floor(10.0, started=0.0)
    floor.apply(beat("a", 7, [0], 100.0), 100.0)
    floor.apply(snap("r1", 5, "a", 7, 100.0), 100.0)
    assert not floor.apply(snap("r1", 6, "b", 6, 101.0), 101.0)


def test_fresh_while_every_partition_is_claimed_by_a_live_worker() -> None:
    floor = Floor(10.0, started=0.0)
    assert floor.freshness(1.0).stale and floor.freshness(1.0).age_seconds is None
    floor.apply(beat("a", 1, [0], 100.0), 100.0)
    floor.apply(beat("b", 1, [1], 100.0), 100.0)
    assert floor.freshness(101.0).age_seconds == pytest.approx(1.0)
    assert not floor.freshness(101.0).stale


def test_a_silent_worker_makes_its_partitions_stale_until_another_claims_them() -> None:
    floor = Floor(10.0, started=0.0)
    floor.apply(beat("a", 1, [0], 100.0), 100.0)
    floor.apply(beat("b", 1, [1], 100.0), 100.0)
    floor.apply(beat("a", 1, [0], 130.0), 130.0)  # b said nothing for 30 s
    fresh = floor.freshness(130.0)
    assert fresh.stale and fresh.age_seconds == pytest.approx(30.0)
    floor.apply(beat("a", 2, [0, 1], 131.0), 131.0)
    assert not floor.freshness(131.0).stale


def test_a_worker_behind_its_backlog_is_as_fresh_as_its_last_batch() -> None:
    floor = Floor(10.0, started=0.0)
    floor.apply(beat("a", 1, [0, 1], 200.0, lag=5000, last_processed=150.0), 200.0)
    fresh = floor.freshness(200.0)
    assert fresh.stale and fresh.age_seconds == pytest.approx(50.0)


def test_a_partition_never_claimed_ages_from_start() -> None:
    floor = Floor(10.0, started=100.0)
    floor.apply(beat("a", 1, [0], 150.0), 150.0)  # partition 1 of 2 has no owner
    assert floor.freshness(150.0).age_seconds == pytest.approx(50.0)


def test_campaigns_come_from_the_newest_heartbeat() -> None:
    floor = Floor(10.0, started=0.0)
    floor.apply(beat("a", 1, [0], 100.0), 100.0)
    assert floor.campaigns() == {"camp": (1, 99)}
