"""What one screen shows, as plain JSON: built once per filter and sent to every screen with it.

Numbers are the workers' counters unchanged (talk in whole minutes, as the floor says
it); targets come from the same targets file the worker reads, so bars and pace marks
agree with ``callfloor_rep_target``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from payroll.plan import PayPlan
from schemas.abandon import REGIMES
from schemas.kpis import abandon_rate, business_day
from schemas.snapshots import RepSnapshot
from schemas.targets import Key, TargetSet, Value
from wallboard.alerts import grouped
from wallboard.floor import Floor
from wallboard.pace import Shift, month_fraction, pace, progress
from wallboard.tiers import tier_progress

# (shown name, counter in the snapshot, target key, divisor for display)
DAILY_COLUMNS: tuple[tuple[str, str, Key, int], ...] = (
    ("dials", "dials", ("day", "dials"), 1),
    ("connects", "connects", ("day", "connects"), 1),
    ("valid_connects", "valid_connects", ("day", "valid_connects"), 1),
    ("talk_minutes", "talk_seconds", ("day", "talk_seconds"), 60),
)
SUMMED = ("dials", "connects", "valid_connects", "talk_seconds", "sales")


MAX_FILTER_CHARS = 100  # longer than any team or campaign id a floor uses


@dataclass(frozen=True)
class Filters:
    team: str | None = None
    campaign: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Filters:
        """Raises ``ValueError`` for a value no floor uses (the server answers 400)."""
        values = [query.get(name) or None for name in ("team", "campaign")]
        for name, value in zip(("team", "campaign"), values, strict=True):
            if value is not None and len(value) > MAX_FILTER_CHARS:
                raise ValueError(f"?{name}= is longer than {MAX_FILTER_CHARS} characters")
        return cls(*values)


def _cell(value: int, target: Value | None, divisor: int, fraction: float) -> dict[str, Any]:
    goal = None if target is None else float(target) / divisor
    shown = value // divisor
    return {
        "value": shown,
        "target": goal,
        "progress": progress(shown, goal),
        "pace": pace(shown, goal, fraction),
    }


def _columns(today: Mapping[str, int], month_sales: int, targets: Mapping[Key, Value],
             day_share: float, month_share: float) -> dict[str, dict[str, Any]]:  # fmt: skip
    cells = {
        name: _cell(today.get(counter, 0), targets.get(key), divisor, day_share)
        for name, counter, key, divisor in DAILY_COLUMNS
    }
    sales = _cell(month_sales, targets.get(("month", "sales")), 1, month_share)
    cells["sales"] = {**sales, "today": today.get("sales", 0)}
    return cells


def _rep_row(rep: RepSnapshot, targets: TargetSet | None, day_share: float, month_share: float,
             plan: PayPlan | None) -> dict[str, Any]:  # fmt: skip
    rep_targets = targets.rep(rep.rep_id) if targets else {}
    tier = None
    if plan is not None:
        revenue_target = rep_targets.get(("month", "revenue"))
        tier = tier_progress(plan, rep.month.get("revenue", 0), revenue_target)
    return {
        "rep": rep.rep_id,
        "team": rep.team_id,
        "cells": _columns(rep.today, rep.month.get("sales", 0), rep_targets, day_share, month_share),
        "tier": tier,
    }


def _leaderboard_order(row: dict[str, Any]) -> tuple[int, int, int, int, str]:
    """Most sales today first, then valid connects, connects, dials; ties by name."""
    cells = row["cells"]
    return (-cells["sales"]["today"], -cells["valid_connects"]["value"], -cells["connects"]["value"],
            -cells["dials"]["value"], row["team"])  # fmt: skip


def _teams(reps: Iterable[RepSnapshot], targets: TargetSet | None, day_share: float,
           month_share: float) -> list[dict[str, Any]]:  # fmt: skip
    totals: dict[str, dict[str, int]] = {}
    for rep in reps:
        sums = totals.setdefault(rep.team_id, dict.fromkeys((*SUMMED, "month_sales", "reps"), 0))
        for name in SUMMED:
            sums[name] += rep.today.get(name, 0)
        sums["month_sales"] += rep.month.get("sales", 0)
        sums["reps"] += 1
    rows = []
    for team, t in totals.items():
        team_targets = targets.team(team) if targets else {}
        cells = _columns(t, t["month_sales"], team_targets, day_share, month_share)
        rows.append({"team": team, "reps": t["reps"], "cells": cells})
    rows.sort(key=_leaderboard_order)
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def _campaigns(floor: Floor, only: str | None, regime_of: Callable[[str], str]) -> list[dict[str, Any]]:
    """Each campaign under its own regime (schemas.abandon): that window's rate, that line."""
    windows = {name: floor.campaigns(name) for name in REGIMES}
    rows = []
    for campaign in sorted(set().union(*windows.values())):
        if only is not None and campaign != only:
            continue
        regime = REGIMES[regime_of(campaign)]
        abandoned, connects = windows[regime.name].get(campaign, (0, 0))
        rate = abandon_rate(abandoned, connects)
        rows.append({"campaign": campaign, "regime": regime.name, "line": regime.line, "abandoned": abandoned,
                     "answers": abandoned + connects, "rate": rate,
                     "over": rate is not None and rate > regime.line})  # fmt: skip
    return rows


def build_view(floor: Floor, targets: TargetSet | None, shift: Shift, zone: Any, now: float,
               filters: Filters, alerts: list[dict[str, Any]], *,
               regime_of: Callable[[str], str] = lambda _: "30d",
               plan: PayPlan | None = None) -> dict[str, Any]:  # fmt: skip
    """``regime_of``: the abandon regime a campaign is judged by (``Settings.abandon_regime_of``);
    ``plan``: the pay plan in force, for each rep's commission tier (none: no tiers shown)."""
    moment = datetime.fromtimestamp(now, UTC)
    local = moment.astimezone(zone)
    today = business_day(moment, zone)
    day = today.isoformat()
    day_share, month_share = shift.fraction(local), month_fraction(local, shift)
    reps = floor.reps_of_day(day)
    shown = sorted(
        (r for r in reps if filters.team in (None, r.team_id)), key=lambda r: (r.team_id, r.rep_id)
    )
    fresh = floor.freshness(now)
    shown_alerts = [a for a in alerts if filters.team is None or a.get("team") in (None, filters.team)]
    return {
        "day": day,
        "clock": local.strftime("%H:%M"),
        "shift": {
            "share": round(day_share, 4),
            "on_break": shift.on_break(local),
            "active": shift.active(local),
        },
        "fresh": {
            "age": None if fresh.age_seconds is None else round(fresh.age_seconds, 1),
            "stale": fresh.stale,
        },
        "filters": {"team": filters.team, "campaign": filters.campaign},
        "teams": _teams(reps, targets, day_share, month_share),
        "reps": [_rep_row(r, targets, day_share, month_share, plan) for r in shown],
        "campaigns": _campaigns(floor, filters.campaign, regime_of),
        "alerts": grouped(shown_alerts),
    }
