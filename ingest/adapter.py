"""What every format adapter shares: the mapping, the clock, the identity rules, the leg fields."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

from ingest.clock import LocalClock
from ingest.identity import Defaults, IdentityResolver
from ingest.legs import Leg
from ingest.mapping import IngestMapping, MappingError
from ingest.sources import LineFeed, SourceRecord


class Adapter:
    """Subclasses read records (:meth:`records`) and turn one into a :class:`Leg` (:meth:`leg`)."""

    name = ""
    defaults: Defaults = {}
    records_hold = False  # the format writes how long a call was on hold (``talk_includes_hold``)
    time_fields: tuple[str, ...] = ()  # the fields a mapping's ``time_formats`` may declare

    def __init__(self, mapping: IngestMapping, clock: LocalClock) -> None:
        self.mapping, self.clock = mapping, clock
        self.resolver = IdentityResolver(mapping, self.defaults)
        if not mapping.talk_includes_hold and not self.records_hold:
            raise MappingError(
                f"talk_includes_hold: false: {self.name} records carry no hold time, so talk cannot "
                "leave it out (only freeswitch-json has hold_accum_seconds)"
            )
        unknown = sorted(set(mapping.time_formats) - set(self.time_fields))
        if unknown:
            readable = ", ".join(self.time_fields) or "none: it reads its own epochs and times"
            raise MappingError(f"time_formats: {', '.join(unknown)}: not a time field of {self.name} "
                               f"(its time fields: {readable})")  # fmt: skip
        self.time_formats = {name: mapping.time_formats.get(name, "auto") for name in self.time_fields}

    def records(self, feed: LineFeed, origin: str, *, whole_file: bool) -> Iterator[SourceRecord]:
        raise NotImplementedError

    def leg(self, record: SourceRecord) -> Leg:
        raise NotImplementedError

    def unreadable_advice(self) -> str:
        """What to do when most records of a file are unreadable (the import stops, ``verdict``)."""
        return f"Is this a {self.name} file? Check --format (docs/integrate/dialers.md)."

    def creation_id(self, record: SourceRecord) -> str | None:
        """An id that starts with the epoch the call was made at (Asterisk's ``uniqueid``), when the
        record's start was read as a local time: the clock check compares the two (``ZoneCheck``)."""
        return None

    def make_leg(self, record: SourceRecord, call_id: str, *, started: datetime, answered: datetime | None,
                 ended: datetime, disposition: str, talk_seconds: int, amd: str | None = None,
                 outcome: str | None = None, helper: bool = False,
                 pbx_answered: bool = False) -> Leg:  # fmt: skip
        fields: Mapping[str, str] = record.fields
        rep, team, campaign = self.resolver.identity(fields)
        if outcome is None and disposition == "answered":
            outcome = self.resolver.outcome(fields)
        return Leg(
            call_id=call_id, origin=record.origin, line=record.line, raw=record.raw,
            started=started, answered=answered, ended=ended, disposition=disposition,
            talk_seconds=talk_seconds, rep_id=rep, team_id=team, campaign_id=campaign,
            amd=amd if amd is not None else self.resolver.amd(fields), outcome=outcome,
            sale_amount=self.resolver.sale_amount(fields) if outcome == "sale" else None,
            helper=helper, pbx_answered=pbx_answered,
        )  # fmt: skip
