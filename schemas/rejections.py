"""The closed set of reasons a CDR is sent to the dead-letter topic.

Each reason is machine-readable (it travels in the DLQ record's ``reason``
header) and documented by its docstring, which docs/reference/rejections.md renders;
nothing else may appear there.
"""

from enum import StrEnum


class Rejection(StrEnum):
    """Each member's docstring below is its documented meaning (docs/hooks.py renders the table)."""

    INVALID_JSON = "invalid_json"
    """not UTF-8 JSON (includes empty messages)"""
    NOT_AN_OBJECT = "not_an_object"
    """JSON, but not an object"""
    TOO_LARGE = "too_large"
    """over 64 KiB"""
    UNKNOWN_SCHEMA_VERSION = "unknown_schema_version"
    """`schema_version` is not 1"""
    MISSING_FIELD = "missing_field"
    """a required field is absent"""
    UNKNOWN_FIELD = "unknown_field"
    """a field schema v1 does not define"""
    INVALID_VALUE = "invalid_value"
    """wrong type (no coercion: `"30"` is not 30), enum, range, empty id, more than 2 decimals,
    NaN/Infinity, `sale_amount` without outcome `sale` or a sale without an amount"""
    BAD_TIMESTAMP = "bad_timestamp"
    """not RFC 3339 with an offset, or outside 2000..2200"""
    TIME_ORDER = "time_order"
    """`answered_at < dialed_at`, or `ended_at` before the call started"""
    TALK_MISMATCH = "talk_mismatch"
    """`talk_seconds` differs from `ended_at − answered_at` by more than 1 s (0 when unanswered)"""
    FUTURE_EVENT = "future_event"
    """`dialed_at` more than 5 minutes ahead of the worker's clock"""
    BAD_IDENTIFIER = "bad_identifier"
    """`call_id`, `rep_id`, `team_id` or `campaign_id` is whitespace only, has leading or trailing
    whitespace, holds a control, format (zero-width, bidi, BOM, soft hyphen) or
    line/paragraph-separator character, or is over 128 characters once normalised"""
    CURRENCY_MISMATCH = "currency_mismatch"
    """`currency` is valid ISO 4217 shape but not the floor's `CALLFLOOR_CURRENCY`"""
    AMOUNT_TOO_LARGE = "amount_too_large"
    """`sale_amount`, `list_price` or `sold_price` above `CALLFLOOR_MAX_AMOUNT`"""
    TOO_OLD = "too_old"
    """`dialed_at` more than `CALLFLOOR_LATE_HORIZON_DAYS` × 24 h before the worker's clock"""


class CDRRejected(ValueError):
    """Raised by :func:`schemas.cdr.parse_cdr`; carries the reason and a human detail."""

    def __init__(self, reason: Rejection, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


MAX_DETAIL_BYTES = 2000  # a dead letter's detail header is a message for a person, not a dump


def why_headers(reason: str, detail: str) -> list[tuple[str, bytes]]:
    """The ``reason`` and ``detail`` headers every dead letter carries, whoever rejects it (the
    worker, an ingest adapter): one spelling, so a reader of the DLQ needs one rule."""
    return [("reason", reason.encode()), ("detail", detail.encode("utf-8", "replace")[:MAX_DETAIL_BYTES])]
