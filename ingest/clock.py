"""Dialer timestamps to aware datetimes: local times read in one configured zone, DST included.

Dialers write wall-clock times without an offset (Asterisk ``2026-11-30 09:15:02``,
FreeSWITCH ``start_stamp``, VICIdial ``call_date``). They are read in the zone the dialer's
clock runs in. Around DST:

- an *ambiguous* time (the repeated hour when clocks go back) reads as its first
  occurrence, unless it is a later time of the same call (answer, end) that would then fall
  before the call's start: it reads as the second occurrence, so a call that crosses the
  change keeps its true length;
- a *nonexistent* time (the skipped hour when clocks go forward) cannot come from a clock
  in that zone, so the record is rejected (``bad_timestamp``): the zone is probably wrong.

Offsets are looked up once per distinct minute (1M rows share a few thousand minutes).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ingest.rejects import IngestRejection, Unmappable

_FIXED: dict[timedelta, timezone] = {}


def fixed_zone(offset: timedelta) -> timezone:
    zone = _FIXED.get(offset)
    if zone is None:
        zone = _FIXED[offset] = UTC if not offset else timezone(offset)
    return zone


class LocalClock:
    """Reads one zone's wall-clock texts and epoch numbers into offset-carrying datetimes."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        # minute text -> (first reading's zone, second reading's zone) or None when skipped
        self._offsets: dict[str, tuple[timezone, timezone] | None] = {}

    def _readings(self, naive: datetime, minute: str) -> tuple[timezone, timezone] | None:
        if minute in self._offsets:
            return self._offsets[minute]
        first = naive.replace(tzinfo=self.zone, fold=0)
        second = naive.replace(tzinfo=self.zone, fold=1)
        back = first.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None)
        found = None
        if back == naive:
            found = (fixed_zone(first.utcoffset()), fixed_zone(second.utcoffset()))  # type: ignore[arg-type]
        self._offsets[minute] = found
        return found

    def parse(self, text: str, *, not_before: datetime | None = None) -> datetime:
        """``YYYY-MM-DD HH:MM:SS[.ffffff]`` in this zone, or ISO 8601 with its own offset."""
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise Unmappable(IngestRejection.BAD_TIMESTAMP, f"not a date and time: {text!r}") from None
        if moment.tzinfo is not None:
            return moment
        readings = self._readings(moment, text[:16])
        if readings is None:
            raise Unmappable(
                IngestRejection.BAD_TIMESTAMP,
                f"{text!r} does not exist in {self.zone.key} (skipped by a DST change): "
                "is the file in another zone? (--timezone)",
            )
        first, second = readings
        aware = moment.replace(tzinfo=first)
        if first is not second and not_before is not None and aware < not_before:
            aware = moment.replace(tzinfo=second)
        return aware

    def from_epoch(self, seconds: float) -> datetime:
        """A Unix time, shown in this zone's offset at that instant."""
        local = datetime.fromtimestamp(seconds, UTC).astimezone(self.zone)
        return local.astimezone(fixed_zone(local.utcoffset()))  # type: ignore[arg-type]
