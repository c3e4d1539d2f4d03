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

Pushed callbacks write times as epoch numbers too (:meth:`LocalClock.read`): seconds,
milliseconds or microseconds, declared per field by the mapping's ``time_formats`` or told
apart by their number of digits (10, 13, 16). A number that fits neither, or whose reading
lands outside 2000-2099 (milliseconds read as seconds, or the reverse), is rejected with
what it would be, never read as a time a thousand times off.

A file written in another zone (an Asterisk with ``usegmtime=yes``, a PBX set to UTC) reads
without error, hours off. :class:`ZoneCheck` catches it where the records carry the true
instant too: Asterisk's ``uniqueid`` begins with the epoch of the channel's creation.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal, get_args
from zoneinfo import ZoneInfo, available_timezones

from ingest.rejects import IngestRejection, Unmappable

_FIXED: dict[timedelta, timezone] = {}
REGIONS = frozenset({"Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian",
                     "Pacific"})  # fmt: skip


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


# how a time field is written (the mapping's ``time_formats``): ``auto`` tells epochs from texts
TimeFormat = Literal["auto", "text", "epoch_s", "epoch_ms", "epoch_us"]
TIME_FORMATS: tuple[str, ...] = get_args(TimeFormat)
EPOCH_UNITS = {"epoch_s": 1, "epoch_ms": 1_000, "epoch_us": 1_000_000}
EPOCH_BY_DIGITS = {10: "epoch_s", 13: "epoch_ms", 16: "epoch_us"}  # 2001-2286 in each unit
EPOCH_NUMBER = re.compile(r"(\d+)(?:\.\d*)?")
PLAUSIBLE_EPOCHS = (946_684_800, 4_102_444_800)  # 2000-01-01 .. 2100-01-01 UTC: a call's time
SECONDS_A_YEAR = 31_556_952


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
        return _suffix(first.utcoffset()), _suffix(second.utcoffset())  # type: ignore[arg-type]  # aware: not None

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

    def read(self, text: str, form: str, *, name: str, not_before: datetime | None = None) -> datetime:
        """A time field written as ``form`` (:data:`TimeFormat`); ``name`` is for the reject.

        ``auto``: a text with a date (``-`` after the year) is a date and time; a number is an
        epoch by its digits before any fraction: 10 seconds, 13 milliseconds, 16 microseconds.
        """
        number = None if form == "text" or text[4:5] == "-" else EPOCH_NUMBER.fullmatch(text)
        if number is None:
            if form in ("auto", "text"):
                try:
                    return self.parse(text, not_before=not_before)
                except Unmappable as error:
                    raise Unmappable(error.reason, f"{name}: {error.detail}") from None
            raise Unmappable(IngestRejection.BAD_TIMESTAMP,
                             f"{name}: {text!r} is not a number, and time_formats says {form}")  # fmt: skip
        if form == "auto":
            digits = len(number[1])
            if digits not in EPOCH_BY_DIGITS:
                raise Unmappable(
                    IngestRejection.BAD_TIMESTAMP,
                    f"{name}: {text!r} is a number of {digits} digits, neither epoch seconds (10), "
                    "milliseconds (13) nor microseconds (16): declare it in the mapping's time_formats",
                )
            form = EPOCH_BY_DIGITS[digits]
        seconds = float(text) / EPOCH_UNITS[form]
        if not PLAUSIBLE_EPOCHS[0] <= seconds < PLAUSIBLE_EPOCHS[1]:
            year = 1970 + int(seconds // SECONDS_A_YEAR)
            likely = EPOCH_BY_DIGITS.get(len(number[1]))
            hint = f"is it {likely}?" if likely not in (None, form) else "is the clock or the unit wrong?"
            raise Unmappable(
                IngestRejection.BAD_TIMESTAMP,
                f"{name}: {text!r} read as {form} is in the year {year}, not a call's time: {hint} "
                "(the mapping's time_formats)",
            )
        return self.from_epoch(int(seconds))

    def from_epoch(self, seconds: float) -> datetime:
        """A Unix time, shown in this zone's offset at that instant."""
        local = datetime.fromtimestamp(seconds, UTC).astimezone(self.zone)
        return local.astimezone(fixed_zone(local.utcoffset()))  # type: ignore[arg-type]  # aware: never None


# An Asterisk uniqueid (and VICIdial's, which is Asterisk's) is "<epoch>.<sequence>": the Unix
# time its channel was created, whatever zone the CDR's texts are written in.
EPOCH_ID = re.compile(r"(\d{9,10})(?:\.\d+)?")
AGREE_SECONDS = 300  # a CDR starts when its channel is made: "a few minutes" covers reset CDRs
QUARTER_HOUR = 900  # every zone's offset is a multiple of 15 minutes
WIDEST_OFFSETS = (-12 * 3600, 14 * 3600)


class ZoneCheck:
    """Do a file's local times fit the zone they are read in? Asterisk's uniqueid says.

    Each row gives the instant its start was read as (in the chosen zone) and the epoch of
    its uniqueid. When they agree within :data:`AGREE_SECONDS`, the row fits. When they
    differ by a whole zone offset (a multiple of 15 minutes, within a few minutes) the row
    votes for the offset its start text would fit. Rows whose uniqueid is not an epoch, or
    is days away (a PBX clock set wrong, ids from elsewhere), tell nothing. If most rows
    vote for one other offset, the file was written in another zone.
    """

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.seen = self.fit = 0
        self.votes: Counter[int] = Counter()  # fitting UTC offset, seconds -> rows
        self.instant: datetime | None = None  # one moment of the file, to name zones at

    def observe(self, started: datetime, uniqueid: str) -> None:
        match = EPOCH_ID.fullmatch(uniqueid.strip())
        if match is None:
            return
        self.seen += 1
        created = int(match[1])
        drift = started.timestamp() - created
        if abs(drift) <= AGREE_SECONDS:
            self.fit += 1
            return
        offset = drift + started.utcoffset().total_seconds()  # type: ignore[union-attr]  # aware: never None
        whole = round(offset / QUARTER_HOUR) * QUARTER_HOUR
        if abs(offset - whole) <= AGREE_SECONDS and WIDEST_OFFSETS[0] <= whole <= WIDEST_OFFSETS[1]:
            self.votes[whole] += 1
            self.instant = self.instant or datetime.fromtimestamp(created, UTC)

    def misfit(self) -> tuple[int, int] | None:
        """(the offset most rows fit, how many) when that is most rows; else None."""
        if not self.votes or self.fit * 2 > self.seen:
            return None
        offset, rows = self.votes.most_common(1)[0]
        return (offset, rows) if rows * 2 > self.seen else None

    def advice(self, origin: str) -> str | None:
        """What to tell the admin when the file's times fit another zone; None when they fit."""
        found = self.misfit()
        if found is None:
            return None
        offset, rows = found
        instant = self.instant or datetime.now(UTC)
        read_as = instant.astimezone(self.zone).utcoffset() or timedelta(0)
        hours = abs(timedelta(seconds=offset) - read_as).total_seconds() / 3600
        zones = zones_at(timedelta(seconds=offset), instant)
        return (
            f"{origin}: the times do not fit --timezone {self.zone.key} (UTC{_suffix(read_as)}): in "
            f"{rows} of {self.seen} rows the start is {hours:g} h away from the moment its uniqueid says "
            f"the channel was created; they fit UTC{_suffix(timedelta(seconds=offset))}. Run again "
            f"with --timezone {' or '.join(zones)} (or `timezone:` in the mapping); an Asterisk with "
            "usegmtime=yes writes UTC. If this PBX's uniqueid is not its channels' creation time, "
            "set `clock_check: false` in the mapping. Nothing was sent."
        )


def zones_at(offset: timedelta, instant: datetime, most: int = 3) -> list[str]:
    """IANA zones whose offset at ``instant`` is ``offset``: ``UTC``, a few named zones, ``Etc/GMT±h``."""
    if not offset:
        return ["UTC"]
    named = sorted(
        name
        for name in available_timezones()
        if name.split("/")[0] in REGIONS and instant.astimezone(ZoneInfo(name)).utcoffset() == offset
    )
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    fixed = [] if rest else [f"Etc/GMT{-hours:+d}"]  # Etc/ names invert the sign (POSIX)
    return named[:most] + fixed
