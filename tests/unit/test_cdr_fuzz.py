"""Fuzzing ``parse_cdr``: whatever the bytes, the answer is a CDR or CDRRejected.

The worker turns any other exception into a dead letter too (streams.routing.validate), but
only by logging a validator bug; these properties keep such bugs out of the validator.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.cdr import CDR, parse_cdr
from schemas.rejections import CDRRejected, Rejection
from tests.chaos.hostile import FIELDS, FIXED_NOW, hostile, json_values, valid_cdrs

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
CLOSED_SET = set(Rejection)


def outcome(raw: bytes) -> CDR | Rejection:
    """parse_cdr's answer; any exception other than CDRRejected fails the test."""
    try:
        return parse_cdr(raw, now=FIXED_NOW)
    except CDRRejected as rejected:
        assert rejected.reason in CLOSED_SET and rejected.detail
        return rejected.reason


@FUZZ
@given(st.binary(max_size=2_000))
def test_arbitrary_bytes(raw: bytes) -> None:
    outcome(raw)


@FUZZ
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    assert not isinstance(outcome(orjson.dumps(value)), CDR) or isinstance(value, dict)


@FUZZ
@given(valid_cdrs(), st.dictionaries(st.sampled_from(FIELDS), json_values, min_size=1, max_size=4))
def test_valid_cdr_with_fields_replaced_by_json(cdr: dict[str, Any], changes: dict[str, Any]) -> None:
    outcome(orjson.dumps(cdr | changes))


@FUZZ
@given(valid_cdrs(), st.sampled_from(FIELDS), st.text(max_size=64))
def test_valid_cdr_with_a_field_replaced_by_text(cdr: dict[str, Any], field: str, text: str) -> None:
    outcome(orjson.dumps(cdr | {field: text}))


@FUZZ
@given(valid_cdrs(), st.integers(min_value=0), st.binary(min_size=1, max_size=8))
def test_valid_cdr_with_bytes_spliced_in(cdr: dict[str, Any], at: int, junk: bytes) -> None:
    raw = orjson.dumps(cdr)
    at %= len(raw)
    outcome(raw[:at] + junk + raw[at:])


@FUZZ
@given(hostile())
def test_hostile_messages_are_rejected_for_an_allowed_reason(case: tuple[str, bytes, Any]) -> None:
    kind, raw, allowed = case
    result = outcome(raw)
    assert not isinstance(result, CDR), f"{kind} accepted: {raw[:200]!r}"
    assert allowed is None or result.value in allowed, (kind, result, raw[:200])


@FUZZ
@given(valid_cdrs())
def test_valid_cdrs_are_accepted(cdr: dict[str, Any]) -> None:
    assert isinstance(outcome(orjson.dumps(cdr)), CDR)
