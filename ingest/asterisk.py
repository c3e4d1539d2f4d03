"""Asterisk CDRs: ``cdr_csv``'s Master.csv (both column layouts), ``cdr_custom`` and JSON lines.

``cdr_csv`` writes no header; its columns (Asterisk's CDR variables, see the README) are
told apart by their number: 18 (``loguniqueid``/``loguserfield``) or 21 (``newcdrcolumns``:
also ``peeraccount``, ``linkedid``, ``sequence``). A ``cdr_custom`` file, whose column
order is the admin's, is read with the mapping's ``columns``; a file whose first row names
the columns is read by that header. ``asterisk-json`` is one object per line keyed by the
same CDR variable names (``calldate`` is taken for ``start``, as in the ``cdr`` SQL table).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

from ingest.adapter import Adapter
from ingest.clock import LocalClock
from ingest.legs import Leg
from ingest.mapping import IngestMapping, Rule, StatusRule
from ingest.records import csv_records, flat_fields, json_records, required, whole_seconds
from ingest.rejects import IngestRejection, Unmappable
from ingest.sources import LineFeed, SourceRecord

CLASSIC_COLUMNS = [
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
    "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield",
]  # fmt: skip
NEW_COLUMNS = [*CLASSIC_COLUMNS, "peeraccount", "linkedid", "sequence"]
LAYOUTS = {len(CLASSIC_COLUMNS): CLASSIC_COLUMNS, len(NEW_COLUMNS): NEW_COLUMNS}
KNOWN_NAMES = frozenset(NEW_COLUMNS) | {"calldate"}

DISPOSITIONS = {"ANSWERED": "answered", "NO ANSWER": "no_answer", "BUSY": "busy", "FAILED": "failed",
                "CONGESTION": "congestion"}  # fmt: skip
NOT_FINAL = "not_final"


def nobody_bridged(fields: dict[str, str]) -> bool:
    """An ``ANSWERED`` row with no ``dstchannel``: the PBX answered it itself (to play a message,
    or ``lastapp`` ``Hangup`` after the reps' legs rang out), so no person was bridged and
    the floor counts no connect. A layout without the ``dstchannel`` column cannot tell:
    its answers count."""
    other = fields.get("dstchannel")
    return other is not None and not other.strip()


def is_helper(fields: dict[str, str]) -> bool:
    """A ``Local/...;2`` row: the half of a Local channel pair that runs the dialplan (its
    ``dcontext`` is the helper context, its peer no rep's phone)."""
    channel = fields.get("channel", "")
    return channel.startswith("Local/") and channel.rstrip().endswith(";2")


class AsteriskAdapter(Adapter):
    """Asterisk's CDR variables; a pushed callback renamed to them (``fields``) reads the same way,
    with its own status words in the mapping's ``statuses`` (``已接通: {disposition: answered}``)
    and its times as texts or epochs (``time_formats``, else told apart: ``LocalClock.read``)."""

    time_fields = ("start", "calldate", "answer", "end")
    defaults = {
        "rep": [Rule(field="accountcode"),
                Rule(field="channel", pattern=re.compile(r"^(?:SIP|PJSIP|IAX2)/(?P<rep>[^-/@]+)"))],
        "team": [Rule(value="unassigned")],
        "campaign": [Rule(field="dcontext")],
    }  # fmt: skip

    def __init__(self, mapping: IngestMapping, clock: LocalClock) -> None:
        super().__init__(mapping, clock)
        words = {word: StatusRule(disposition=found) for word, found in DISPOSITIONS.items()}
        self.statuses: dict[str, StatusRule | str] = {
            **words,
            **{k.upper(): v for k, v in mapping.statuses.items()},
        }

    def _status(self, fields: dict[str, str]) -> StatusRule:
        status = required(fields, "disposition").upper()
        rule = self.statuses.get(status)
        if rule is None:
            raise Unmappable(IngestRejection.UNKNOWN_STATUS,
                             f"disposition {status!r} is not one of {', '.join(self.statuses)} "
                             "(add it to the mapping's statuses)")  # fmt: skip
        if rule == NOT_FINAL:
            raise Unmappable(IngestRejection.NOT_FINAL, f"disposition {status!r}: the call is not over")
        assert isinstance(rule, StatusRule)
        return rule

    def _time(self, text: str, name: str, not_before: datetime | None = None) -> datetime:
        return self.clock.read(text, self.time_formats[name], name=name, not_before=not_before)

    def leg(self, record: SourceRecord) -> Leg:
        fields = record.fields
        source_id = fields.get("linkedid", "").strip() or required(fields, "uniqueid")
        rule = self._status(fields)
        start = fields.get("start")
        started = (
            self._time(start, "start") if start else self._time(required(fields, "calldate"), "calldate")
        )
        ended = self._time(required(fields, "end"), "end", started)
        billsec = whole_seconds(fields, "billsec")
        answered = None
        disposition = rule.disposition
        pbx_answered = disposition == "answered" and nobody_bridged(fields)
        if pbx_answered:
            disposition, billsec = "no_answer", 0
        elif disposition == "answered":
            answer_text = fields.get("answer", "").strip()
            answered = (self._time(answer_text, "answer", started) if answer_text
                        else ended - timedelta(seconds=billsec))  # fmt: skip
        return self.make_leg(record, f"ast-{source_id}", started=started, answered=answered, ended=ended,
                             disposition=disposition, talk_seconds=billsec, amd=rule.amd,
                             outcome=rule.outcome, helper=is_helper(fields),
                             pbx_answered=pbx_answered)  # fmt: skip

    def creation_id(self, record: SourceRecord) -> str | None:
        return record.fields.get("uniqueid")


class AsteriskCsvAdapter(AsteriskAdapter):
    name = "asterisk-csv"

    def unreadable_advice(self) -> str:
        if self.mapping.columns is not None:
            return (f"The mapping's `columns:` names {len(self.mapping.columns)} columns: list the fields of "
                    "your cdr_custom.conf template, all of them, in order.")  # fmt: skip
        return (f"cdr_csv writes {' or '.join(map(str, LAYOUTS))} columns and this file has no header row: "
                "a cdr_custom file needs `columns:` in the mapping (--mapping), naming its template's "
                "fields in order, e.g. columns: [clid, src, dst, dcontext, channel, dstchannel, lastapp, "
                "lastdata, start, answer, end, duration, billsec, disposition, amaflags, accountcode, "
                "uniqueid, userfield, sequence]; JSON lines are --format asterisk-json "
                "(docs/integrate/dialers.md).")  # fmt: skip

    def _layout(self, row: list[str], first: bool) -> tuple[list[str] | None, bool]:
        if (
            first
            and row[0].strip().lower() in KNOWN_NAMES
            and {c.strip().lower() for c in row} <= KNOWN_NAMES | {""}
        ):
            return [c.strip().lower() for c in row], True
        if self.mapping.columns is not None:
            return self.mapping.columns, False
        return LAYOUTS.get(len(row)), False

    def records(self, feed: LineFeed, origin: str, *, whole_file: bool) -> Iterator[SourceRecord]:
        return csv_records(feed, origin, self._layout)


class AsteriskJsonAdapter(AsteriskAdapter):
    name = "asterisk-json"

    def unreadable_advice(self) -> str:
        return ("asterisk-json reads JSON objects (one per line, pretty-printed one after another, or an "
                "array of them); a Master.csv is --format asterisk-csv "
                "(docs/integrate/dialers.md).")  # fmt: skip

    def records(self, feed: LineFeed, origin: str, *, whole_file: bool) -> Iterator[SourceRecord]:
        return json_records(feed, origin, lambda doc: {k.lower(): v for k, v in flat_fields(doc).items()})
