"""Why a dialer record could not become a CDR: machine-readable reasons for the DLQ ``reason`` header.

The worker's reasons (:class:`schemas.rejections.Rejection`) cover a CDR that fails the
schema; these cover a dialer record that never became one. A mapped record that the schema
still refuses keeps the schema's reason.
"""

from __future__ import annotations

from enum import StrEnum


class IngestRejection(StrEnum):
    """Each member's docstring is its documented meaning (docs/hooks.py renders the tables)."""

    UNREADABLE_RECORD = "unreadable_record"
    """not CSV / JSON, not an object, or a row whose width matches no known layout"""
    MISSING_FIELD = "missing_field"
    """a field the mapping needs (`uniqueid`, `start`, `end`, `disposition`, `status`, FreeSWITCH
    `variables.uuid`...) is empty or absent"""
    BAD_TIMESTAMP = "bad_timestamp"
    """not a date and time, a local time skipped by a DST change, or an epoch number in no known
    unit or far from any call's time (`time_formats`, [live feeds](live-feeds.md))"""
    BAD_NUMBER = "bad_number"
    """`billsec`, `length_in_sec`, an `*_epoch` or a sale amount is not a number"""
    UNKNOWN_STATUS = "unknown_status"
    """an Asterisk disposition (or a callback's status word), FreeSWITCH hangup cause, VICIdial
    status or AMD result not in its table (`statuses`, `hangup_causes`)"""
    NOT_FINAL = "not_final"
    """a VICIdial call still in progress (`INCALL`, `QUEUE`, `DISPO`), or a status the mapping
    calls `not_final`: import it once it is over"""
    NO_IDENTITY = "no_identity"
    """no rule of the mapping gave a rep, team or campaign for any leg of the call (the detail
    names every rule tried)"""


class Unmappable(ValueError):
    """A record (or a call) that cannot be mapped; ``reason`` is an IngestRejection or a schema reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = str(reason)
        self.detail = detail
