"""Why a dialer record could not become a CDR: machine-readable reasons for the DLQ ``reason`` header.

The worker's reasons (:class:`schemas.rejections.Rejection`) cover a CDR that fails the
schema; these cover a dialer record that never became one. A mapped record that the schema
still refuses keeps the schema's reason.
"""

from __future__ import annotations

from enum import StrEnum


class IngestRejection(StrEnum):
    UNREADABLE_RECORD = "unreadable_record"  # not CSV/JSON, or the wrong number of columns
    MISSING_FIELD = "missing_field"  # a field the mapping needs is absent or empty
    BAD_TIMESTAMP = "bad_timestamp"  # not a date and time, skipped by DST, or an epoch in no known unit
    BAD_NUMBER = "bad_number"  # billsec, length_in_sec, an epoch or an amount is not a number
    UNKNOWN_STATUS = "unknown_status"  # disposition, hangup cause or status not in the table
    NOT_FINAL = "not_final"  # call in progress (VICIdial INCALL, QUEUE; a status mapped not_final)
    NO_IDENTITY = "no_identity"  # no rule of the mapping gave a rep, team or campaign


class Unmappable(ValueError):
    """A record (or a call) that cannot be mapped; ``reason`` is an IngestRejection or a schema reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = str(reason)
        self.detail = detail
