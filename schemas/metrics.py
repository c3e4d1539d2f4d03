"""Metric definitions from DESIGN.md, as pure functions: one place decides what counts.

The worker, the simulator's truth and the tests all call these, so "a connect"
or "a valid call" cannot mean two things in two places.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time
from decimal import Decimal
from operator import add, attrgetter, sub
from typing import Self
from zoneinfo import ZoneInfo

from schemas.cdr import CDR


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one call adds to its rep's day. Money is in cents so sums stay exact."""

    dials: int = 0
    connects: int = 0
    valid_connects: int = 0
    talk_seconds: int = 0
    wrap_seconds: int = 0
    sales: int = 0
    revenue_cents: int = 0
    new_customers: int = 0
    abandoned: int = 0

    def as_tuple(self) -> tuple[int, ...]:
        return _counters_of(self)

    def __add__(self, other: Self) -> Self:
        return type(self)(*map(add, _counters_of(self), _counters_of(other)))

    def __sub__(self, other: Self) -> Self:
        return type(self)(*map(sub, _counters_of(self), _counters_of(other)))


COUNTER_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Contribution))
Counters = tuple[int, ...]  # one call's or one rep's counters, in COUNTER_NAMES order
_counters_of = attrgetter(*COUNTER_NAMES)


def is_connect(cdr: CDR) -> bool:
    """Answered by a live person: the dialer says answered and AMD did not hear a machine."""
    return cdr.disposition == "answered" and cdr.amd != "machine"


def to_cents(amount: Decimal | None) -> int:
    return 0 if amount is None else int(amount * 100)


def counters(cdr: CDR, valid_call_seconds: int) -> Counters:
    """Counters one call adds; talk and wrap count only on connects (AHT's denominator).

    A plain tuple in COUNTER_NAMES order: the worker computes this for every CDR.
    """
    connect = is_connect(cdr)
    sale = cdr.outcome == "sale"
    return (
        int(cdr.direction == "outbound"),  # dials
        int(connect),  # connects
        int(connect and cdr.talk_seconds >= valid_call_seconds),  # valid_connects
        cdr.talk_seconds if connect else 0,  # talk_seconds
        cdr.wrap_seconds if connect else 0,  # wrap_seconds
        int(sale),  # sales
        to_cents(cdr.sale_amount) if sale else 0,  # revenue_cents
        int(sale and cdr.new_customer),  # new_customers
        int(cdr.disposition == "abandoned"),  # abandoned
    )


def contribution(cdr: CDR, valid_call_seconds: int) -> Contribution:
    return Contribution(*counters(cdr, valid_call_seconds))


def business_day(ts: datetime, zone: ZoneInfo) -> date:
    """The local calendar date in the business zone (23- and 25-hour days included)."""
    return ts.astimezone(zone).date()


def connect_rate(connects: int, dials: int) -> float | None:
    return connects / dials if dials else None


def average_handle_time(talk_seconds: int, wrap_seconds: int, connects: int) -> float | None:
    return (talk_seconds + wrap_seconds) / connects if connects else None


def abandon_rate(abandoned: int, connects: int) -> float | None:
    """Regulatory abandon rate: abandoned / (connects + abandoned)."""
    total = connects + abandoned
    return abandoned / total if total else None


def price_control(sold_cents: int, list_cents: int) -> float | None:
    return sold_cents / list_cents if list_cents else None


@dataclass(frozen=True, slots=True)
class ShiftProgress:
    active: bool
    elapsed_seconds: float
    length_seconds: float


def shift_progress(now: datetime, zone: ZoneInfo, start: time, end: time) -> ShiftProgress:
    """Where today's shift stands in local time (wall-clock, so DST days keep their hours)."""
    local = now.astimezone(zone)
    begin = datetime.combine(local.date(), start, zone)
    finish = datetime.combine(local.date(), end, zone)
    length = (finish - begin).total_seconds()
    elapsed = min(max((local - begin).total_seconds(), 0.0), length)
    return ShiftProgress(begin <= local < finish, elapsed, length)
