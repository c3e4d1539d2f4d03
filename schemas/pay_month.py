"""A month of calls as payroll sees it: what ClickHouse gives the pure computation.

Kept apart from both sides so the ClickHouse reads (sinks/) and the pay rules (payroll/)
share one shape without either importing the other. Activity is kept per business day
because a month is split by the roster: a promotion on the 15th pays commission on the
calls before it as a rep and on those after it as a lead, and a hire on the 10th is scored
on the days since.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property


@dataclass
class Activity:
    """Winning call versions summed: KPI counters (money in cents) and price-control sums."""

    counters: dict[str, int] = field(default_factory=dict)
    list_cents: int = 0
    sold_cents: int = 0

    def add(self, other: Activity) -> None:
        for name, value in other.counters.items():
            self.counters[name] = self.counters.get(name, 0) + value
        self.list_cents += other.list_cents
        self.sold_cents += other.sold_cents


TargetRow = tuple[str, str, str, str, str, Decimal | int]  # scope, id, team_id, period, metric, value
DayKey = tuple[str, str, date]  # (rep_id, team_id on the calls, business day)


def month_days(month: date) -> list[date]:
    """Every calendar day of the month ``month`` falls in."""
    first = month.replace(day=1)
    return [first + timedelta(days=i) for i in range(calendar.monthrange(first.year, first.month)[1])]


@dataclass(frozen=True)
class MonthData:
    """What ClickHouse says about a month: the input of ``payroll.compute.compute_month``."""

    month: date  # its first day
    cutoff: str  # newest ingested_at counted (UTC, ISO), or "" when the month has no calls
    days: Mapping[DayKey, Activity]  # (rep, team on the calls, business day) -> that day's calls
    targets_version: str | None
    targets: tuple[TargetRow, ...] = ()

    @property
    def last_day(self) -> date:
        return month_days(self.month)[-1]

    @cached_property
    def activity(self) -> dict[tuple[str, str], Activity]:
        """(rep, team on the calls) -> the month (what summaries and the read model show)."""
        out: dict[tuple[str, str], Activity] = {}
        for (rep, team, _day), act in self.days.items():
            out.setdefault((rep, team), Activity()).add(act)
        return out
