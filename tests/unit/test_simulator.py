"""The simulator is the yardstick for the pipeline, so it is checked against the schema
and against an independent recount of its own totals."""

from __future__ import annotations

import base64
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest

from schemas.cdr import parse_cdr
from schemas.rejections import CDRRejected, Rejection
from simulator import KINDS, SimEvent, SimulationSpec, Truth, compute_truth, generate
from simulator.faults import REASONS
from simulator.model import daytime_zone

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai: the day's shift is over
END_DAY = date(2026, 11, 26)
ZONE = ZoneInfo("Asia/Shanghai")
FAULTY = SimulationSpec(
    reps=20, calls=8000, days=3, seed=11, duplicates=0.05, corrections=0.06, bad=0.04,
    late=0.05, end_day=END_DAY,
)  # fmt: skip


@pytest.fixture(scope="module")
def events() -> list[SimEvent]:
    return list(generate(FAULTY, now=NOW))


@pytest.fixture(scope="module")
def cdrs(events: list[SimEvent]) -> list[tuple[SimEvent, dict]]:
    return [(e, orjson.loads(e.value)) for e in events if e.kind != "bad"]


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_same_seed_same_bytes_and_other_seed_differs(events: list[SimEvent]) -> None:
    assert list(generate(FAULTY, now=NOW)) == events
    other = list(generate(SimulationSpec(**{**FAULTY.__dict__, "seed": 12}), now=NOW))
    assert [e.value for e in other] != [e.value for e in events]
    # the bytes depend on the day simulated, not on the clock of the machine generating them
    later = list(generate(FAULTY, now=NOW + timedelta(days=3)))
    assert [e.value for e in later] == [e.value for e in events]


def test_fractions_roughly_honoured(events: list[SimEvent]) -> None:
    kinds = Counter(e.kind for e in events)
    assert set(kinds) <= set(KINDS)
    assert kinds["call"] + kinds["late"] == FAULTY.calls
    assert kinds["late"] == round(FAULTY.calls * FAULTY.late)
    for kind, fraction in (("duplicate", 0.05), ("correction", 0.06), ("bad", 0.04)):
        expected = FAULTY.calls * fraction
        assert 0.75 * expected < kinds[kind] < 1.25 * expected, (kind, kinds[kind])
    reasons = Counter(e.reason for e in events if e.kind == "bad")
    assert set(reasons) == set(REASONS)


def test_every_good_event_parses_and_every_bad_one_has_its_reason(events) -> None:
    for event in events:
        if event.kind == "bad":
            with pytest.raises(CDRRejected) as caught:
                parse_cdr(event.value, now=NOW)
            assert caught.value.reason == Rejection(event.reason), event.value[:200]
            assert event.key.startswith(b"rep-")
        else:
            cdr = parse_cdr(event.value, now=NOW)
            assert event.key == cdr.rep_id.encode()
            assert event.reason is None


def test_timestamps_are_consistent_and_inside_shift_hours(cdrs) -> None:
    for _event, c in cdrs:
        dialed, ended = ts(c["dialed_at"]), ts(c["ended_at"])
        assert dialed.utcoffset() == timedelta(hours=8)
        assert 9 <= dialed.hour < 18 and dialed <= NOW
        if c["answered_at"] is None:
            assert c["talk_seconds"] == 0 and ended >= dialed
        else:
            answered = ts(c["answered_at"])
            assert dialed <= answered <= ended
            assert abs((ended - answered).total_seconds() - c["talk_seconds"]) < 1


def test_call_ids_unique_and_corrections_never_move_a_call(cdrs) -> None:
    by_id: dict[str, dict[int, dict]] = defaultdict(dict)
    order: dict[str, list[int]] = defaultdict(list)
    for _event, c in cdrs:
        versions = by_id[c["call_id"]]
        if c["version"] in versions:  # a repeated version is a verbatim duplicate
            assert versions[c["version"]] == c
        versions[c["version"]] = c
        order[c["call_id"]].append(c["version"])
    corrected = [v for v in by_id.values() if 2 in v]
    for versions in corrected:
        one, two = versions[1], versions[2]
        assert two != one
        for field in ("rep_id", "team_id", "dialed_at", "direction"):
            assert one[field] == two[field]
    v2_first = sum(1 for seq in order.values() if 2 in seq and seq.index(2) < seq.index(1))
    assert 0.2 < v2_first / len(corrected) < 0.45


def test_late_calls_come_after_the_last_days_traffic(events, cdrs) -> None:
    last_day = max(ts(c["dialed_at"]).date() for _, c in cdrs)
    first_late = next(i for i, e in enumerate(events) if e.kind == "late")
    assert all(e.kind != "call" for e in events[first_late:])
    for event, c in cdrs:
        if event.kind == "late":
            assert ts(c["dialed_at"]).date() < last_day


def test_traffic_looks_like_a_telesales_floor(cdrs) -> None:
    first = [c for e, c in cdrs if e.kind in ("call", "late")]
    outbound = [c for c in first if c["direction"] == "outbound"]
    connects = [c for c in first if c["disposition"] == "answered" and c["amd"] != "machine"]
    outbound_connects = [c for c in connects if c["direction"] == "outbound"]
    assert 0.05 <= len(outbound_connects) / len(outbound) <= 0.15
    assert 0.9 < len(outbound) / len(first) < 1
    dispositions = Counter(c["disposition"] for c in outbound)
    assert dispositions.most_common(1)[0][0] == "no_answer"
    assert set(dispositions) == {"answered", "no_answer", "busy", "failed", "congestion",
                                 "voicemail", "abandoned"}  # fmt: skip
    assert all(c["amd"] == "machine" for c in outbound if c["disposition"] == "voicemail")
    sales = [c for c in connects if c["outcome"] == "sale"]
    assert 0.02 <= len(sales) / len(connects) <= 0.1
    assert any(c["new_customer"] for c in sales)
    for c in sales:
        whole, cents = c["sale_amount"].split(".")
        assert whole.isdigit() and len(cents) == 2 and c["sold_price"] == c["sale_amount"]
    assert sum(float(c["sold_price"]) <= float(c["list_price"]) for c in sales) > 0.9 * len(sales)
    connect_ids = {c["call_id"] for c in connects}
    assert all(c["outcome"] is None for c in first if c["call_id"] not in connect_ids)
    talk = sorted(c["talk_seconds"] for c in connects)
    assert talk[len(talk) // 2] < 60 and talk[-1] >= 600  # many short calls, a long tail
    assert all(0 <= c["wrap_seconds"] <= 120 for c in connects)


def recount(cdrs: list[tuple[SimEvent, dict]], threshold: int) -> dict[str, dict]:
    """DESIGN.md's metric definitions applied to plain dicts, highest version per call."""
    final: dict[str, dict] = {}
    for _event, c in cdrs:
        if c["call_id"] not in final or c["version"] > final[c["call_id"]]["version"]:
            final[c["call_id"]] = c
    rows: dict[str, dict] = {}
    for c in final.values():
        day = ts(c["dialed_at"]).astimezone(ZONE).date().isoformat()
        row = rows.setdefault(f"{day}|{c['rep_id']}", Counter())
        connect = c["disposition"] == "answered" and c["amd"] != "machine"
        row["dials"] += c["direction"] == "outbound"
        row["connects"] += connect
        row["valid_connects"] += connect and c["talk_seconds"] >= threshold
        row["talk_seconds"] += c["talk_seconds"] if connect else 0
        row["wrap_seconds"] += c["wrap_seconds"] if connect else 0
        row["sales"] += c["outcome"] == "sale"
        whole, _, cents = (c["sale_amount"] or "0.00").partition(".")
        row["cents"] += int(whole) * 100 + int(cents)
        row["new_customers"] += c["outcome"] == "sale" and c["new_customer"]
        row["abandoned"] += c["disposition"] == "abandoned"
    return rows


def test_truth_equals_a_straightforward_recount(events, cdrs, tmp_path) -> None:
    truth = compute_truth(events, FAULTY, now=NOW)
    expected = recount(cdrs, FAULTY.valid_call_seconds)
    assert set(truth.calls) == set(expected)
    for key, row in truth.calls.items():
        want = expected[key]
        assert [row["business_day"], row["rep_id"]] == key.split("|")
        cents = want.pop("cents")
        assert row["revenue"] == f"{cents // 100}.{cents % 100:02d}"
        assert {k: row[k] for k in want} == {k: int(v) for k, v in want.items()}
    assert truth.totals["call_ids"] == FAULTY.calls
    assert truth.totals["dials"] == sum(r["dials"] for r in truth.calls.values())
    assert sum(truth.rejects.values()) == len(truth.bad) == truth.kinds["bad"]
    assert truth.produced == len(events)
    some_bad = next(b for b in truth.bad if b["reason"] == "unknown_field")
    assert some_bad["key"] == orjson.loads(base64.b64decode(some_bad["value_b64"]))["rep_id"]
    assert len(truth.calls) == FAULTY.reps * (FAULTY.days)  # late calls land in earlier days
    truth.write(tmp_path / "truth.json")
    assert Truth.read(tmp_path / "truth.json") == truth


def test_truth_counts_each_call_once_whatever_the_faults() -> None:
    clean = SimulationSpec(reps=10, calls=3000, days=2, seed=5, end_day=END_DAY)
    noisy = SimulationSpec(**{**clean.__dict__, "duplicates": 0.3, "bad": 0.2})
    noisy_events = list(generate(noisy, now=NOW))
    clean_events = list(generate(clean, now=NOW))
    assert [e for e in noisy_events if e.kind == "call"] == clean_events
    assert compute_truth(noisy_events, noisy, now=NOW).calls == compute_truth(
        clean_events, clean, now=NOW
    ).calls


def test_late_calls_with_one_day_land_on_the_day_before() -> None:
    spec = SimulationSpec(reps=5, calls=1000, late=0.1, seed=3, end_day=END_DAY)
    truth = compute_truth(generate(spec, now=NOW), spec, now=NOW)
    days = Counter(row["business_day"] for row in truth.calls.values())
    assert set(days) == {"2026-11-25", "2026-11-26"}


def test_shift_hours_follow_dst_in_the_business_zone() -> None:
    spec = SimulationSpec(reps=5, calls=2000, days=3, seed=2, timezone="America/New_York",
                          end_day=date(2026, 3, 9))  # fmt: skip  # DST starts 2026-03-08
    offsets = set()
    for event in generate(spec, now=NOW):
        dialed = ts(orjson.loads(event.value)["dialed_at"])
        assert 9 <= dialed.hour < 18
        offsets.add(dialed.utcoffset())
    assert offsets == {timedelta(hours=-5), timedelta(hours=-4)}


def test_today_is_cut_at_now_and_defaults_resolve() -> None:
    morning = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
    spec = SimulationSpec(reps=5, calls=500, seed=4, corrections=0.2)
    assert spec.resolved(morning).end_day == date(2026, 11, 27)
    assert spec.resolved(morning).teams == 1
    assert spec.resolved(datetime(2026, 11, 27, 1, 0, tzinfo=UTC)).end_day == date(2026, 11, 26)
    for event in generate(spec, now=morning):
        c = orjson.loads(event.value)
        assert ts(c["ended_at"]) <= morning
    compute_truth(generate(spec, now=morning), spec, now=morning)
    with pytest.raises(ValueError, match="no shift time"):
        SimulationSpec(end_day=date(2026, 11, 28)).resolved(morning)


def test_live_mode_stamps_now() -> None:
    spec = SimulationSpec(reps=3, calls=200, live=True, bad=0.1, duplicates=0.1, seed=9)
    before = datetime.now(UTC)
    events = list(generate(spec))
    truth = compute_truth(events, spec)
    assert truth.totals["call_ids"] == 200
    for _event, c in ((e, orjson.loads(e.value)) for e in events if e.kind == "call"):
        assert before - timedelta(hours=3) < ts(c["ended_at"]) <= datetime.now(UTC)


@pytest.mark.parametrize(
    "bad",
    [{"reps": 0}, {"calls": 0}, {"duplicates": 1.5}, {"late": -0.1}, {"teams": 99},
     {"days": 0}, {"rate": -1}],
)  # fmt: skip
def test_invalid_specs_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        SimulationSpec(**bad)


@pytest.mark.parametrize("utc_hour", range(24))
def test_daytime_zone_is_mid_afternoon_at_any_hour(utc_hour: int) -> None:
    now = datetime(2026, 11, 27, utc_hour, 30, tzinfo=UTC)
    assert now.astimezone(ZoneInfo(daytime_zone(now))).hour == 14
