"""Pace: is a rep ahead of or behind where a target says they should be by now?

Pure functions of the local wall-clock time, so they are tested without services.
Only working time counts: before the shift nothing is expected, during a break the
expectation stands still (lunch is not "behind pace"), after the shift all of it is.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum


def _seconds(t: time) -> float:
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


class Pace(StrEnum):
    AHEAD = "ahead"  # at or above the share of the target due by now
    BEHIND = "behind"
    MET = "met"  # the whole target is reached
    NONE = "none"  # no target, or a target of 0: nothing to be ahead of


@dataclass(frozen=True)
class Shift:
    start: time
    end: time
    breaks: tuple[tuple[time, time], ...] = ()

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"shift end {self.end} is not after its start {self.start}")
        for begin, finish in self.breaks:
            if finish <= begin:
                raise ValueError(f"break {begin}-{finish} ends before it starts")

    def _worked_by(self, clock: float) -> float:
        """Working seconds between the shift start and ``clock`` (seconds since midnight)."""
        start, end = _seconds(self.start), _seconds(self.end)
        done = max(0.0, min(clock, end) - start)
        for begin, finish in self.breaks:
            b, f = max(_seconds(begin), start), min(_seconds(finish), end)
            if f > b:
                done -= max(0.0, min(clock, f) - b)
        return done

    @property
    def working_seconds(self) -> float:
        return self._worked_by(_seconds(self.end))

    def fraction(self, local: datetime) -> float:
        """Share of today's working time gone at local wall-clock ``local``, 0..1."""
        total = self.working_seconds
        if total <= 0:
            return 1.0
        return min(1.0, self._worked_by(_seconds(local.time())) / total)

    def on_break(self, local: datetime) -> bool:
        now = local.time()
        return any(begin <= now < finish for begin, finish in self.breaks)

    def active(self, local: datetime) -> bool:
        return self.start <= local.time() < self.end and not self.on_break(local)


def month_fraction(local: datetime, shift: Shift) -> float:
    """Share of the calendar month gone: whole days before today plus today's working share."""
    days = calendar.monthrange(local.year, local.month)[1]
    return (local.day - 1 + shift.fraction(local)) / days


def pace(actual: float, target: float | None, fraction: float) -> Pace:
    if target is None or target <= 0:
        return Pace.NONE
    if actual >= target:
        return Pace.MET
    return Pace.AHEAD if actual >= target * fraction else Pace.BEHIND


def progress(actual: float, target: float | None) -> float | None:
    """Bar length 0..1; None when there is no bar to draw (no target, or a target of 0)."""
    if target is None or target <= 0:
        return None
    return max(0.0, min(1.0, actual / target))
