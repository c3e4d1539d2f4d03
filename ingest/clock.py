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


def _suffix(offset: timedelta) -> str:
    """``+08:00`` for an offset (with seconds when it has them, as old LMT offsets do)."""
    sign = "-" if offset < timedelta(0) else "+"
    minutes, seconds = divmod(int(abs(offset).total_seconds()), 60)
    text = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return f"{text}:{seconds:02d}" if seconds else text


class LocalClock:
    """Reads one zone's wall-clock texts and epoch numbers into offset-carrying datetimes."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        # minute text -> offset suffixes of its (first, second) reading, or None when skipped
        self._suffixes: dict[str, tuple[str, str] | None] = {}

    def _readings(self, naive: datetime) -> tuple[str, str] | None:
        first = naive.replace(tzinfo=self.zone, fold=0)
        second = naive.replace(tzinfo=self.zone, fold=1)
        back = first.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None)
        if back != naive:
            return None
        return _suffix(first.utcoffset()), _suffix(second.utcoffset())  # type: ignore[arg-type]

    def parse(self, text: str, *, not_before: datetime | None = None) -> datetime:
        """``YYYY-MM-DD HH:MM:SS[.ffffff]`` in this zone, or ISO 8601 with its own offset.

        Fast path: the minute's offset is known, so the text is parsed once with it appended
        (``datetime.replace`` costs four times the parse).
        """
        minute = text[:16]
        suffixes = self._suffixes.get(minute, ())
        if suffixes == ():
            suffixes = self._suffixes[minute] = self._learn(minute)
        if suffixes:
            try:
                aware = datetime.fromisoformat(text + suffixes[0])
            except ValueError:
                return self._slow(text, not_before)
            if suffixes[0] != suffixes[1] and not_before is not None and aware < not_before:
                aware = datetime.fromisoformat(text + suffixes[1])
            return aware
        return self._slow(text, not_before)

    def _learn(self, minute: str) -> tuple[str, str] | None:
        try:
            naive = datetime.fromisoformat(minute)
        except ValueError:
            return None
        return None if naive.tzinfo is not None else self._readings(naive)

    def _slow(self, text: str, not_before: datetime | None) -> datetime:
        """Texts with their own offset, and every error."""
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise Unmappable(IngestRejection.BAD_TIMESTAMP, f"not a date and time: {text!r}") from None
        if moment.tzinfo is not None:
            return moment
        readings = self._readings(moment)
        if readings is None:
            raise Unmappable(
                IngestRejection.BAD_TIMESTAMP,
                f"{text!r} does not exist in {self.zone.key} (skipped by a DST change): "
                "is the file in another zone? (--timezone)",
            )
        aware = datetime.fromisoformat(text + readings[0])
        if readings[0] != readings[1] and not_before is not None and aware < not_before:
            aware = datetime.fromisoformat(text + readings[1])
        return aware

    def from_epoch(self, seconds: float) -> datetime:
        """A Unix time, shown in this zone's offset at that instant."""
        local = datetime.fromtimestamp(seconds, UTC).astimezone(self.zone)
        return local.astimezone(fixed_zone(local.utcoffset()))  # type: ignore[arg-type]
