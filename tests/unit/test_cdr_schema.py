"""Every schema rule and every rejection reason of CDR v1."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from schemas.cdr import MAX_MESSAGE_BYTES, parse_cdr
from schemas.rejections import CDRRejected, Rejection
from tests.factories import cdr_dict, encode, unanswered, without

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def reason_of(raw: bytes) -> Rejection:
    with pytest.raises(CDRRejected) as caught:
        parse_cdr(raw, now=NOW)
    assert caught.value.detail, "a rejection always says what was wrong"
    return caught.value.reason


def test_valid_cdr_parses_with_exact_money_and_aware_times() -> None:
    cdr = parse_cdr(encode(cdr_dict()), now=NOW)
    assert cdr.sale_amount == Decimal("1299.00")
    assert cdr.dialed_at.utcoffset() is not None
    assert cdr.talk_seconds == 60


def test_unanswered_call_and_defaults() -> None:
    data = unanswered()
    del data["wrap_seconds"], data["amd"], data["outcome"]
    cdr = parse_cdr(encode(data), now=NOW)
    assert cdr.wrap_seconds == 0 and cdr.amd is None and cdr.outcome is None


def test_utc_z_suffix_is_rfc3339() -> None:
    cdr = parse_cdr(encode(unanswered(dialed_at="2026-11-26T02:00:00Z",
                                      ended_at="2026-11-26T02:00:09Z")), now=NOW)  # fmt: skip
    assert cdr.dialed_at.tzinfo is not None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", Rejection.INVALID_JSON),
        (b"\xff\xfe\x00garbage", Rejection.INVALID_JSON),
        (b"", Rejection.INVALID_JSON),
        (b"[1, 2]", Rejection.NOT_AN_OBJECT),
        (b"42", Rejection.NOT_AN_OBJECT),
        (b"{" + b" " * MAX_MESSAGE_BYTES + b"}", Rejection.TOO_LARGE),
    ],
)
def test_undecodable_messages(raw: bytes, reason: Rejection) -> None:
    assert reason_of(raw) is reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (cdr_dict(schema_version=2), Rejection.UNKNOWN_SCHEMA_VERSION),
        (cdr_dict(schema_version="1"), Rejection.UNKNOWN_SCHEMA_VERSION),
        (cdr_dict(schema_version=True), Rejection.UNKNOWN_SCHEMA_VERSION),
        (without("schema_version"), Rejection.MISSING_FIELD),
        (without("call_id"), Rejection.MISSING_FIELD),
        (without("rep_id"), Rejection.MISSING_FIELD),
        (without("dialed_at"), Rejection.MISSING_FIELD),
        (without("ended_at"), Rejection.MISSING_FIELD),
        (without("currency"), Rejection.MISSING_FIELD),
        (cdr_dict(agent_mood="happy"), Rejection.UNKNOWN_FIELD),
        (cdr_dict(rep_id=""), Rejection.INVALID_VALUE),
        (cdr_dict(team_id=""), Rejection.INVALID_VALUE),
        (cdr_dict(campaign_id=7), Rejection.INVALID_VALUE),
        (cdr_dict(rep_id="r" * 10_000), Rejection.INVALID_VALUE),
        (cdr_dict(version=0), Rejection.INVALID_VALUE),
        (cdr_dict(version="2"), Rejection.INVALID_VALUE),
        (cdr_dict(direction="sideways"), Rejection.INVALID_VALUE),
        (cdr_dict(disposition="hung_up"), Rejection.INVALID_VALUE),
        (cdr_dict(amd="robot"), Rejection.INVALID_VALUE),
        (cdr_dict(outcome="maybe"), Rejection.INVALID_VALUE),
        (cdr_dict(talk_seconds="60"), Rejection.INVALID_VALUE),
        (cdr_dict(talk_seconds=60.5), Rejection.INVALID_VALUE),
        (cdr_dict(wrap_seconds=-1), Rejection.INVALID_VALUE),
        (cdr_dict(wrap_seconds=10**9), Rejection.INVALID_VALUE),
        (cdr_dict(sale_amount="-1.00"), Rejection.INVALID_VALUE),
        (cdr_dict(sale_amount="12.345"), Rejection.INVALID_VALUE),
        (cdr_dict(sale_amount="NaN"), Rejection.INVALID_VALUE),
        (cdr_dict(sale_amount="Infinity"), Rejection.INVALID_VALUE),
        (cdr_dict(sale_amount=True), Rejection.INVALID_VALUE),
        (cdr_dict(sale_amount="lots"), Rejection.INVALID_VALUE),
        (cdr_dict(outcome="callback"), Rejection.INVALID_VALUE),  # amount without a sale
        (cdr_dict(sale_amount=None), Rejection.INVALID_VALUE),  # a sale without an amount
        (cdr_dict(currency="yuan"), Rejection.INVALID_VALUE),
        (cdr_dict(new_customer="yes"), Rejection.INVALID_VALUE),
        (cdr_dict(list_price="abc"), Rejection.INVALID_VALUE),
        (cdr_dict(dialed_at="yesterday"), Rejection.BAD_TIMESTAMP),
        (cdr_dict(dialed_at="2026-11-26T10:00:00"), Rejection.BAD_TIMESTAMP),  # no offset
        (cdr_dict(dialed_at=1764122400), Rejection.BAD_TIMESTAMP),
        (cdr_dict(dialed_at="1899-01-01T00:00:00Z"), Rejection.BAD_TIMESTAMP),
        (cdr_dict(ended_at="2026-13-01T00:00:00Z"), Rejection.BAD_TIMESTAMP),
        (cdr_dict(answered_at="2026-11-26T09:59:00+08:00"), Rejection.TIME_ORDER),
        (cdr_dict(ended_at="2026-11-26T10:00:11+08:00"), Rejection.TIME_ORDER),
        (cdr_dict(talk_seconds=90), Rejection.TALK_MISMATCH),
        (unanswered(talk_seconds=5), Rejection.TALK_MISMATCH),
        (unanswered(dialed_at="2026-11-26T20:06:00+08:00", ended_at="2026-11-26T20:07:00+08:00"),
         Rejection.FUTURE_EVENT),
    ],
)
def test_each_rule_has_its_reason(data: dict, reason: Rejection) -> None:
    assert reason_of(encode(data)) is reason


def test_talk_within_one_second_is_accepted() -> None:
    assert parse_cdr(encode(cdr_dict(talk_seconds=61)), now=NOW).talk_seconds == 61


def test_up_to_five_minutes_ahead_is_clock_skew_not_future() -> None:
    data = unanswered(dialed_at="2026-11-26T20:04:00+08:00", ended_at="2026-11-26T20:04:30+08:00")
    assert parse_cdr(encode(data), now=NOW).call_id == "c-1"


def test_rejection_reasons_are_a_closed_documented_set() -> None:
    assert {r.value for r in Rejection} == {
        "invalid_json", "not_an_object", "too_large", "unknown_schema_version", "missing_field",
        "unknown_field", "invalid_value", "bad_timestamp", "time_order", "talk_mismatch",
        "future_event", "bad_identifier", "currency_mismatch", "amount_too_large", "too_old",
    }  # fmt: skip


def test_every_reason_is_in_the_readme_table() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert [r.value for r in Rejection if f"| `{r.value}` |" not in readme] == []
