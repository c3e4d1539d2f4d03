"""Routing rules of a batch: rejects, duplicates, corrections, late days; no services."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from sinks.clickhouse.calls import COLUMNS, rank
from streams.live_state import LiveState, Verdict
from streams.routing import RawEvent, route_piece
from tests.factories import cdr_dict, encode, unanswered

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 26)


def run(events: list[RawEvent], state: LiveState | None = None):
    state = state or LiveState(today=lambda: TODAY)
    for event in events:
        if not state.owns(event.partition):
            state.seed(event.partition, [])
    return route_piece(events, state, zone=ZONE, valid_call_seconds=30, now=NOW), state


def ev(offset: int, data: dict | bytes, partition: int = 0) -> RawEvent:
    raw = data if isinstance(data, bytes) else encode(data)
    return RawEvent(partition, offset, b"rep-1", raw)


def today_counters(state: LiveState) -> dict[str, tuple[int, ...]]:
    return {rep: c.as_tuple() for rep, _team, c in state.day_counters(TODAY)}


def test_rank_orders_versions_then_first_received() -> None:
    assert rank(2, 999) > rank(1, 0)
    assert rank(1, 5) > rank(1, 6)
    with pytest.raises(ValueError):
        rank(1, 1 << 41)


def test_good_and_bad_events_are_split_and_bad_keeps_its_bytes() -> None:
    outcome, _ = run([ev(0, cdr_dict()), ev(1, b"\x00garbage"), ev(2, cdr_dict(call_id="c-2"))])
    assert len(outcome.rows) == 2 and len(outcome.rows[0]) == len(COLUMNS)
    (letter,) = outcome.dead_letters
    assert letter.reason == "invalid_json" and letter.event.value == b"\x00garbage"
    assert letter.event.offset == 1


def test_exact_duplicate_counts_once_and_is_not_rewritten() -> None:
    outcome, state = run([ev(0, cdr_dict()), ev(1, cdr_dict()), ev(0, cdr_dict())])
    assert outcome.verdicts[Verdict.NEW] == 1 and outcome.verdicts[Verdict.STALE] == 2
    assert len(outcome.rows) == 1
    assert today_counters(state)["rep-1"][0] == 1


def test_correction_replaces_counts_and_earlier_version_arriving_late_is_ignored() -> None:
    v1 = unanswered()
    v2 = cdr_dict(version=2)
    outcome, state = run([ev(0, v2), ev(1, v1)])
    assert outcome.verdicts[Verdict.NEW] == 1 and outcome.verdicts[Verdict.STALE] == 1
    assert today_counters(state)["rep-1"][:2] == (1, 1)

    outcome, state = run([ev(0, v1), ev(1, v2)])
    assert outcome.verdicts[Verdict.CORRECTION] == 1 and len(outcome.rows) == 2
    assert today_counters(state)["rep-1"][:3] == (1, 1, 1)


def test_conflicting_same_version_first_received_wins() -> None:
    first, second = cdr_dict(), cdr_dict(outcome="callback", sale_amount=None)
    _, state = run([ev(0, first), ev(1, second)])
    sales = [c.sales for _, _, c in state.day_counters(TODAY)]
    assert sales == [1]


def test_correction_moving_a_call_to_another_day() -> None:
    v1 = cdr_dict()
    v2 = cdr_dict(version=2, dialed_at="2026-11-25T10:00:00+08:00",
                  answered_at="2026-11-25T10:00:12+08:00", ended_at="2026-11-25T10:01:12+08:00")  # fmt: skip
    _, state = run([ev(0, v1), ev(1, v2)])
    assert today_counters(state)["rep-1"][0] == 0
    yesterday = {rep: c.dials for rep, _, c in state.day_counters(date(2026, 11, 25))}
    assert yesterday == {"rep-1": 1}


def test_late_call_outside_the_live_window_is_written_not_counted() -> None:
    old = unanswered(dialed_at="2026-11-20T10:00:00+08:00", ended_at="2026-11-20T10:00:30+08:00")
    outcome, state = run([ev(0, old)])
    assert outcome.verdicts[Verdict.OUTSIDE_WINDOW] == 1 and len(outcome.rows) == 1
    assert list(state.day_counters(date(2026, 11, 20))) == []


def test_seeded_state_makes_replay_idempotent() -> None:
    state = LiveState(today=lambda: TODAY)
    first, state = run([ev(0, cdr_dict()), ev(1, cdr_dict(call_id="c-2"))], state)
    # A restart: the same calls come back from ClickHouse, then Kafka replays them.
    replay_state = LiveState(today=lambda: TODAY)
    replay_state.seed(0, list(state.seen_calls(0)))
    outcome, replay_state = run([ev(0, cdr_dict()), ev(1, cdr_dict(call_id="c-2"))], replay_state)
    assert outcome.rows == [] and today_counters(replay_state) == today_counters(state)


def test_day_rollover_forgets_days_that_left_the_window() -> None:
    day = [TODAY]
    state = LiveState(today=lambda: day[0], window_days=1)
    run([ev(0, cdr_dict())], state)
    day[0] = date(2026, 11, 27)
    state.roll()
    assert list(state.day_counters(TODAY)) == [] and state.partitions[0].seen == {}


def test_revoked_partition_is_no_longer_reported() -> None:
    _, state = run([ev(0, cdr_dict(), partition=3)])
    state.drop(3)
    assert list(state.day_counters(TODAY)) == []


def test_day_rollover_also_forgets_the_shared_keys_and_counters_of_old_days() -> None:
    day = [TODAY]
    state = LiveState(today=lambda: day[0], window_days=1)
    run([ev(0, cdr_dict()), ev(1, unanswered(call_id="c-2"))], state)
    assert state.partitions[0]._keys and state.partitions[0]._counters
    day[0] = date(2026, 11, 27)
    state.roll()
    assert state.partitions[0]._keys == {} and state.partitions[0]._counters == {}
