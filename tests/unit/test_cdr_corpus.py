"""``parse_cdr`` against independent references: the simulator's stated verdicts and values
read back with the standard library, and the precedence rule when a CDR breaks several."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import msgspec
import orjson
import pytest

from schemas.cdr import CDR, TIMESTAMP_FIELDS, parse_cdr
from schemas.rejections import CDRRejected, Rejection
from simulator import SimEvent, SimulationSpec, generate
from tests.factories import cdr_dict, encode, without

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SPEC = SimulationSpec(
    reps=30, calls=6000, days=2, seed=7, duplicates=0.05, corrections=0.08, bad=0.2, late=0.05,
    end_day=date(2026, 11, 26),
)  # fmt: skip
DEFAULTS = {f.name: f.default for f in msgspec.structs.fields(CDR) if not f.required}
MONEY = ("sale_amount", "list_price", "sold_price")


@pytest.fixture(scope="module")
def events() -> list[SimEvent]:
    return list(generate(SPEC, now=NOW))


def reference(raw: bytes) -> dict[str, Any]:
    """A good CDR's fields as the standard library reads them, defaults filled in."""
    values = DEFAULTS | orjson.loads(raw)
    for name in TIMESTAMP_FIELDS:
        values[name] = None if values[name] is None else datetime.fromisoformat(values[name])
    for name in MONEY:
        values[name] = None if values[name] is None else Decimal(values[name])
    return values


def reason_of(raw: bytes) -> Rejection:
    with pytest.raises(CDRRejected) as caught:
        parse_cdr(raw, now=NOW)
    assert 0 < len(caught.value.detail) <= 500
    return caught.value.reason


def test_simulator_corpus_verdicts_and_values(events: list[SimEvent]) -> None:
    reasons: Counter[str] = Counter()
    for event in events:
        if event.kind == "bad":
            assert reason_of(event.value) is Rejection(event.reason), event.value[:300]
            reasons[event.reason or ""] += 1
            continue
        cdr = parse_cdr(event.value, now=NOW)
        expected = reference(event.value)
        assert {name: getattr(cdr, name) for name in expected} == expected
        assert all(getattr(cdr, name).utcoffset() is not None for name in ("dialed_at", "ended_at"))
        assert all(isinstance(getattr(cdr, name), Decimal | None) for name in MONEY)
    assert len(reasons) >= 8, reasons  # the corpus exercises most rejection reasons


def test_key_order_does_not_change_the_reason() -> None:
    broken = cdr_dict(campaign_id=7, currency="yuan")
    del broken["call_id"]
    shuffled = dict(reversed(list(broken.items())))
    assert reason_of(encode(broken)) is reason_of(encode(shuffled)) is Rejection.MISSING_FIELD


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            {"agent_mood": 1, **cdr_dict(dialed_at="yesterday", schema_version=2)},
            Rejection.UNKNOWN_SCHEMA_VERSION,
        ),
        ({"agent_mood": 1, **without("rep_id", talk_seconds="60")}, Rejection.MISSING_FIELD),
        ({"agent_mood": 1, **cdr_dict(talk_seconds=90)}, Rejection.UNKNOWN_FIELD),
        (cdr_dict(talk_seconds="60", dialed_at=17), Rejection.BAD_TIMESTAMP),  # schema order
        (cdr_dict(sale_amount="12.345", currency="yuan"), Rejection.INVALID_VALUE),
        (cdr_dict(talk_seconds=90, ended_at="2026-11-26T09:00:00+08:00"), Rejection.TIME_ORDER),
        (cdr_dict(ended_at="1999-11-26T09:00:00+08:00"), Rejection.BAD_TIMESTAMP),
    ],
)
def test_one_reason_when_several_rules_break(data: dict[str, Any], reason: Rejection) -> None:
    assert reason_of(encode(data)) is reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"schema_version": 1, "rep_id": "\xff"}', Rejection.INVALID_JSON),  # bad UTF-8 after a miss
        (encode(cdr_dict(talk_seconds="x"))[:-1] + b",}", Rejection.INVALID_JSON),
        (b"[" * 300 + b"]" * 300, Rejection.INVALID_JSON),  # deeper than pydantic's JSON reader went
        (encode(cdr_dict(rep_id=[[[]]])), Rejection.INVALID_VALUE),
        (encode(cdr_dict(sale_amount="1.0000000000000000000000000001")), Rejection.INVALID_VALUE),
        (encode(cdr_dict(currency="CNY\n")), Rejection.INVALID_VALUE),
    ],
)
def test_error_path_edges(raw: bytes, reason: Rejection) -> None:
    assert reason_of(raw) is reason


def test_duplicate_keys_last_one_wins() -> None:
    raw = encode(cdr_dict()).replace(b'"talk_seconds":60', b'"talk_seconds":"x","talk_seconds":60')
    assert parse_cdr(raw, now=NOW).talk_seconds == 60
    raw = encode(cdr_dict()).replace(b'"talk_seconds":60', b'"talk_seconds":60,"talk_seconds":"x"')
    assert reason_of(raw) is Rejection.INVALID_VALUE


def test_money_keeps_its_digits_and_trailing_zeros_are_not_places() -> None:
    cdr = parse_cdr(encode(cdr_dict(list_price="1399.000", sold_price="0E-7")), now=NOW)
    assert str(cdr.list_price) == "1399.000" and cdr.sold_price == 0
