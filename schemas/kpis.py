"""KPI definitions from DESIGN.md: one place decides what counts, and every reader derives from it.

The worker, the simulator's truth and the tests all call these, so "a connect"
or "a valid call" cannot mean two things in two places.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, make_dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from operator import add, attrgetter, sub
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from schemas.cdr import CDR


class Unit(StrEnum):
    CALLS = "calls"
    SECONDS = "seconds"
    MONEY = "money"  # held as integer cents everywhere inside, so sums stay exact


# The ``calls`` column type that holds one call's contribution, by unit.
_COLUMN_TYPES = {Unit.CALLS: "UInt8", Unit.SECONDS: "UInt32", Unit.MONEY: "Int64"}


@dataclass(frozen=True, slots=True)
class KpiCounter:
    """One counter a call adds to its rep's day: the single definition every reader derives from.

    ``name`` is the public name (report column, Prometheus ``metric`` label, targets);
    ``column`` the ``calls`` column holding one call's contribution; ``monthly`` says
    whether it also has a month-to-date period; ``rule`` is what one call adds, from
    DESIGN.md, as a Python expression over ``cdr``, ``connect`` (a live person answered),
    ``sale`` (outcome sale) and ``threshold`` (the valid-call seconds).
    """

    name: str
    column: str
    unit: Unit
    monthly: bool
    help: str
    rule: str

    @property
    def sum_alias(self) -> str:
        """The name of its total in SQL results: money says it is in cents."""
        return f"{self.name}_cents" if self.unit is Unit.MONEY else self.name

    @property
    def column_type(self) -> str:
        return _COLUMN_TYPES[self.unit]

    def exported(self, value: int) -> float:
        """The value in its public unit as a float (Prometheus): money in currency units."""
        return value / 100 if self.unit is Unit.MONEY else float(value)

    def reported(self, value: int) -> int | str:
        """The value in reports: money as an exact decimal string with 2 places."""
        return cents_to_decimal_string(value) if self.unit is Unit.MONEY else int(value)

    def unreported(self, value: int | str) -> int:
        """Back from a report's value to the integer counter (money to cents, exactly)."""
        return int(Decimal(value) * 100) if self.unit is Unit.MONEY else int(value)


def is_connect(cdr: CDR) -> bool:
    """Answered by a live person: the dialer says answered and AMD did not hear a machine."""
    return cdr.disposition == "answered" and cdr.amd != "machine"


def to_cents(amount: Decimal | None) -> int:
    return 0 if amount is None else int(amount * 100)


def cents_to_decimal_string(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


# Talk and wrap count on connects only (AHT's denominator), so their columns are not the raw fields.
KPI_COUNTERS: tuple[KpiCounter, ...] = (
    KpiCounter("dials", "dials", Unit.CALLS, False, "outbound attempts",
               "int(cdr.direction == 'outbound')"),
    KpiCounter("connects", "connects", Unit.CALLS, False, "answered by a live person",
               "int(connect)"),
    KpiCounter("valid_connects", "valid_connects", Unit.CALLS, False,
               "connects with talk_seconds >= the valid-call threshold (有效通话)",
               "int(connect and cdr.talk_seconds >= threshold)"),
    KpiCounter("talk_seconds", "counted_talk", Unit.SECONDS, False, "talk seconds on connects",
               "cdr.talk_seconds if connect else 0"),
    KpiCounter("wrap_seconds", "counted_wrap", Unit.SECONDS, False, "after-call work on connects",
               "cdr.wrap_seconds if connect else 0"),
    KpiCounter("sales", "sales", Unit.CALLS, True, "calls with outcome sale", "int(sale)"),
    KpiCounter("revenue", "revenue_cents", Unit.MONEY, True, "sale amounts",
               "to_cents(cdr.sale_amount) if sale else 0"),
    KpiCounter("new_customers", "new_customers", Unit.CALLS, True, "sales to new customers",
               "int(sale and cdr.new_customer)"),
    KpiCounter("abandoned", "abandoned", Unit.CALLS, False,
               "a live person answered and no rep was free", "int(cdr.disposition == 'abandoned')"),
    KpiCounter("outbound_connects", "outbound_connects", Unit.CALLS, False,
               "outbound calls answered by a live person (呼出接通数量)",
               "int(connect and cdr.direction == 'outbound')"),
    KpiCounter("outbound_talk_seconds", "outbound_talk", Unit.SECONDS, False,
               "talk seconds on outbound connects (呼出接通时间)",
               "cdr.talk_seconds if connect and cdr.direction == 'outbound' else 0"),
)  # fmt: skip

COUNTER_NAMES: tuple[str, ...] = tuple(c.name for c in KPI_COUNTERS)
KPI: dict[str, KpiCounter] = {c.name: c for c in KPI_COUNTERS}
MONTHLY_COUNTERS: tuple[KpiCounter, ...] = tuple(c for c in KPI_COUNTERS if c.monthly)
Counters = tuple[int, ...]  # one call's or one rep's counters, in COUNTER_NAMES order
_as_tuple: Callable[[object], Counters] = attrgetter(*COUNTER_NAMES)


def _tuple(self: Contribution) -> Counters:
    return _as_tuple(self)


def _add(self: Contribution, other: Contribution) -> Contribution:
    return type(self)(*map(add, self.as_tuple(), other.as_tuple()))


def _sub(self: Contribution, other: Contribution) -> Contribution:
    return type(self)(*map(sub, self.as_tuple(), other.as_tuple()))


if TYPE_CHECKING:

    class Contribution:
        """What the type checker sees of the class built below: it cannot follow make_dataclass,
        and spelling the fields out again would make a second list of the KPI counters."""

        def __init__(self, *counts: int, **by_name: int) -> None: ...
        def __getattr__(self, name: str) -> int: ...  # one int field per name in COUNTER_NAMES
        def as_tuple(self) -> Counters: ...
        def __add__(self, other: Contribution) -> Contribution: ...
        def __sub__(self, other: Contribution) -> Contribution: ...

else:
    # What one call (or one rep's day) adds up to, one int field per KPI counter, money in cents.
    Contribution = make_dataclass(
        "Contribution",
        [(name, int, field(default=0)) for name in COUNTER_NAMES],
        namespace={"as_tuple": _tuple, "__add__": _add, "__sub__": _sub},
        frozen=True,
        slots=True,
    )
    Contribution.__module__ = __name__


def reported_counters(counts: Counters) -> dict[str, int | str]:
    """A report row's KPI columns, by public name (money as exact decimal strings)."""
    return {c.name: c.reported(v) for c, v in zip(KPI_COUNTERS, counts, strict=True)}


def _compile_counters() -> Callable[[CDR, int], Counters]:
    """One function computing every rule in one tuple expression: the worker calls it for each
    CDR, and this costs about half of calling one function per counter (measured here)."""
    source = (
        "def counters(cdr, threshold):\n"
        "    connect = is_connect(cdr)\n"
        "    sale = cdr.outcome == 'sale'\n"
        f"    return ({', '.join(c.rule for c in KPI_COUNTERS)},)\n"
    )
    namespace: dict[str, object] = {"is_connect": is_connect, "to_cents": to_cents}
    exec(compile(source, f"<{__name__} KPI rules>", "exec"), namespace)
    return namespace["counters"]  # type: ignore[return-value]  # exec() made it: the type is the one declared


counters = _compile_counters()
counters.__doc__ = "Counters one call adds, a plain tuple in COUNTER_NAMES order (the hot path)."


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
