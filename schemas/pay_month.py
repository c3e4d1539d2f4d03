"""A month of calls as payroll sees it: what ClickHouse gives the pure computation.

Kept apart from both sides so the ClickHouse reads (sinks/) and the pay rules (payroll/)
share one shape without either importing the other.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass
class Activity:
    """One (rep, team)'s month of winning call versions: KPI counters (money in cents), price sums."""

    counters: dict[str, int] = field(default_factory=dict)
    list_cents: int = 0
    sold_cents: int = 0

    def add(self, other: Activity) -> None:
        for name, value in other.counters.items():
            self.counters[name] = self.counters.get(name, 0) + value
        self.list_cents += other.list_cents
        self.sold_cents += other.sold_cents


TargetRow = tuple[str, str, str, str, str, Decimal | int]  # scope, id, team_id, period, metric, value


@dataclass(frozen=True)
class MonthData:
    """What ClickHouse says about a month: the input of :func:`compute_month`."""

    month: date  # its first day
    cutoff: str  # newest ingested_at counted (UTC, ISO), or "" when the month has no calls
    activity: Mapping[tuple[str, str], Activity]  # (rep_id, team_id on the calls) -> month
    rep_days: Mapping[str, int]  # business days with at least one call, per rep
    team_days: Mapping[str, int]
    last_team: Mapping[str, str]  # team on the rep's last call of the month
    targets_version: str | None
    targets: tuple[TargetRow, ...] = ()

    @property
    def last_day(self) -> date:
        return self.month.replace(day=calendar.monthrange(self.month.year, self.month.month)[1])
