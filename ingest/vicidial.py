"""VICIdial call log exports: ``vicidial_log`` rows, one per outbound call attempt.

Read with the export's header row, or, without one, in ``vicidial_log``'s column order.
The log has no separate ring and answer times: ``start_epoch`` (else ``call_date``) is
when the call was placed and, for a call that reached someone, when it was answered;
``length_in_sec`` is then its talk time. Statuses map through :data:`STATUSES`,
overridable with the mapping's ``statuses``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from ingest.adapter import Adapter
from ingest.clock import LocalClock
from ingest.legs import Leg
from ingest.mapping import IngestMapping, Rule, StatusRule
from ingest.records import csv_records, required, whole_seconds
from ingest.rejects import IngestRejection, Unmappable
from ingest.sources import LineFeed, SourceRecord

LOG_COLUMNS = [
    "uniqueid", "lead_id", "list_id", "campaign_id", "call_date", "start_epoch", "end_epoch",
    "length_in_sec", "status", "phone_code", "phone_number", "user", "comments", "processed",
    "user_group", "term_reason", "alt_dial", "called_count",
]  # fmt: skip
NOT_FINAL = "not_final"


def _s(disposition: str, amd: str | None = None, outcome: str | None = None) -> StatusRule:
    return StatusRule(disposition=disposition, amd=amd, outcome=outcome)


# VICIdial's system statuses (vicidial_statuses) -> CDR v1; README "Ingest" lists them
STATUSES: dict[str, StatusRule | str] = {
    "SALE": _s("answered", "human", "sale"),
    "NI": _s("answered", "human", "not_interested"),
    "NP": _s("answered", "human", "not_interested"),
    "CALLBK": _s("answered", "human", "callback"),
    "CBHOLD": _s("answered", "human", "callback"),
    "DNC": _s("answered", "human", "dnc"),
    "XFER": _s("answered", "human"),
    "PU": _s("answered", "human"),
    "PM": _s("answered", "human"),
    "A": _s("voicemail", "machine"),
    "AA": _s("voicemail", "machine"),
    "AM": _s("voicemail", "machine"),
    "AL": _s("voicemail", "machine"),
    "B": _s("busy"),
    "AB": _s("busy"),
    "N": _s("no_answer"),
    "NA": _s("no_answer"),
    "DROP": _s("abandoned", "human"),
    "PDROP": _s("abandoned", "human"),
    "DC": _s("failed"),
    "ADC": _s("failed"),
    "LRERR": _s("failed"),
    "ERI": _s("failed"),
    "INCALL": NOT_FINAL,
    "QUEUE": NOT_FINAL,
    "DISPO": NOT_FINAL,
}
TALKING = frozenset({"answered", "voicemail"})


class VicidialCsvAdapter(Adapter):
    name = "vicidial-csv"
    defaults = {
        "rep": [Rule(field="user")],
        "team": [Rule(field="user_group"), Rule(value="unassigned")],
        "campaign": [Rule(field="campaign_id")],
    }  # fmt: skip

    def __init__(self, mapping: IngestMapping, clock: LocalClock) -> None:
        super().__init__(mapping, clock)
        self.statuses = {**STATUSES, **{k.upper(): v for k, v in mapping.statuses.items()}}

    @staticmethod
    def _layout(row: list[str], first: bool) -> tuple[list[str] | None, bool]:
        names = [c.strip().lower() for c in row]
        if first and "uniqueid" in names and "status" in names:
            return names, True
        return (LOG_COLUMNS, False) if len(row) == len(LOG_COLUMNS) else (None, False)

    def unreadable_advice(self) -> str:
        return ("vicidial-csv reads a header row naming uniqueid and status, or vicidial_log's "
                f"{len(LOG_COLUMNS)} columns in order; export with "
                "`mysql --batch -e 'SELECT * FROM vicidial_log'` and pipe it in as it is "
                "(tab-separated, header included; docs/integrate/dialers.md).")  # fmt: skip

    def creation_id(self, record: SourceRecord) -> str | None:
        fields = record.fields
        return fields.get("uniqueid") if fields.get("start_epoch", "").strip() in ("", "0") else None

    def records(self, feed: LineFeed, origin: str, *, whole_file: bool) -> Iterator[SourceRecord]:
        return csv_records(feed, origin, self._layout)

    def leg(self, record: SourceRecord) -> Leg:
        fields = record.fields
        uniqueid = required(fields, "uniqueid")
        status = required(fields, "status").upper()
        rule = self.statuses.get(status)
        if rule is None:
            raise Unmappable(
                IngestRejection.UNKNOWN_STATUS, f"status {status!r} is not in the table (statuses)"
            )
        if rule == NOT_FINAL:
            raise Unmappable(
                IngestRejection.NOT_FINAL, f"status {status!r}: the call is not over; export it later"
            )
        assert isinstance(rule, StatusRule)
        epoch = fields.get("start_epoch", "").strip()
        if epoch not in ("", "0"):
            started = self.clock.from_epoch(whole_seconds(fields, "start_epoch"))
        else:
            started = self.clock.parse(required(fields, "call_date"))
        length = whole_seconds(fields, "length_in_sec")
        ended = started + timedelta(seconds=length)
        talking = rule.disposition in TALKING
        return self.make_leg(record, f"vd-{uniqueid}", started=started, answered=started if talking else None,
                             ended=ended, disposition=rule.disposition, talk_seconds=length if talking else 0,
                             amd=rule.amd, outcome=rule.outcome)  # fmt: skip
