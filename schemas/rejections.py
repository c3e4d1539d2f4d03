"""The closed set of reasons a CDR is sent to the dead-letter topic.

Each reason is machine-readable (it travels in the DLQ record's ``reason``
header) and documented in the README; nothing else may appear there.
"""

from enum import StrEnum


class Rejection(StrEnum):
    INVALID_JSON = "invalid_json"  # not UTF-8 JSON at all
    NOT_AN_OBJECT = "not_an_object"  # JSON, but not an object
    TOO_LARGE = "too_large"  # message bigger than any real CDR
    UNKNOWN_SCHEMA_VERSION = "unknown_schema_version"  # schema_version is not 1
    MISSING_FIELD = "missing_field"  # a required field is absent
    UNKNOWN_FIELD = "unknown_field"  # a field schema v1 does not define
    INVALID_VALUE = "invalid_value"  # wrong type, enum, range or format
    BAD_TIMESTAMP = "bad_timestamp"  # not RFC 3339 with an offset, or out of range
    TIME_ORDER = "time_order"  # answered_at < dialed_at or ended_at before the start
    TALK_MISMATCH = "talk_mismatch"  # talk_seconds != ended_at - answered_at (±1 s)
    FUTURE_EVENT = "future_event"  # dialed_at more than 5 minutes ahead of the worker
    BAD_IDENTIFIER = "bad_identifier"  # an id is blank, padded, or holds control/invisible characters
    CURRENCY_MISMATCH = "currency_mismatch"  # not the floor's one currency (CALLFLOOR_CURRENCY)
    AMOUNT_TOO_LARGE = "amount_too_large"  # an amount above CALLFLOOR_MAX_AMOUNT
    TOO_OLD = "too_old"  # dialed before the horizon (CALLFLOOR_LATE_HORIZON_DAYS)


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
