"""The pay plan's awards, ranked month to date for the wallboard's awards panel.

A reward only motivates while it is still ahead, so the floor sees who leads each award of the
plan in force during the month, not after the statements are printed. The ranking is payroll's
own pure function (``payroll.awards.rank_awards``) fed the board's month-to-date figures: each
rep's monthly counters from their newest snapshot of the month, as payroll figures a counter
(``payroll.compute.counter_amount``: revenue in currency units), for the people the roster (the
one in payroll's inputs folder, ``CALLFLOOR_PAYROLL_INPUTS_DIR``) says were reps that month. So
the plan's groups, new-hire window, tie-breaker and tie rule are applied by the code that pays,
and the standings on the month's last evening are the places on the statements.

What the board cannot rank live it says, instead of guessing: an award ranked by a csv KPI (its
figure is a file written at month end), by a counter the snapshots do not carry month to date,
or for leads' and managers' roles (their figures are their team's or region's over the days in
the role, a statement's computation). No roster configured or found: the panel says so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from payroll.awards import rank_awards
from payroll.compute import counter_amount, segments
from payroll.inputs import load_roster
from payroll.plan import Award, PayPlan, PayPlanError
from schemas.kpis import KPI, MONTHLY_COUNTERS, Unit
from schemas.roster import Role, Roster
from schemas.snapshots import RepSnapshot
from wallboard.floor import Floor
from wallboard.tiers import file_stamp

log = logging.getLogger(__name__)
LIVE_COUNTERS = frozenset(counter.name for counter in MONTHLY_COUNTERS)
MAX_UNKNOWN = 5  # reps named on the panel as missing from the roster (then "+N")


class RosterWatcher:
    """The roster the plan names, read from ``directory`` and re-read when it or the plan changes.

    A bad roster at start stops the wallboard (``PayPlanError`` names file, line and column); a
    bad edit later is logged and the previous roster stays in force. An unset directory or a
    missing file is not an error: the panel says "no roster"."""

    def __init__(self, directory: Path | None, plan: PayPlan | None) -> None:
        self.directory = directory
        self.roster: Roster | None = None
        self.missing = "" if directory is not None else "CALLFLOOR_PAYROLL_INPUTS_DIR is not set"
        self._key: tuple[object, ...] | None = None
        self.check(plan, strict=True)

    def path(self, plan: PayPlan) -> Path | None:
        return None if self.directory is None else self.directory / plan.doc.roster.file

    def check(self, plan: PayPlan | None, *, strict: bool = False) -> bool:
        """Re-read the roster if it or the plan changed; True when a new roster is in force."""
        path = None if plan is None else self.path(plan)
        if plan is None or path is None:
            return False
        key = (id(plan), file_stamp(path))
        if key == self._key:
            return False
        self._key = key
        if key[1] is None:
            self.roster, self.missing = None, f"{path} not found"
            return True
        assert self.directory is not None
        try:
            self.roster, self.missing = load_roster(plan, self.directory), ""
        except PayPlanError as exc:
            if strict:
                raise
            log.error("roster refused, previous roster stays in force: %s", exc)
            return False
        return True


def live_problem(award: Award) -> str | None:
    """Why the board cannot rank ``award`` month to date; None: it can."""
    if award.roles != [Role.REP]:
        return "roles"  # a lead's or manager's figure is their team's over their days in the role
    for name in (award.by, award.then_by):
        if name is not None and name not in LIVE_COUNTERS:
            return "csv" if name not in KPI else "counter"
    return None


def month_figures(
    snapshots: Iterable[RepSnapshot], roster: Roster, month: date
) -> tuple[dict[tuple[str, Role], dict[str, Any]], list[str]]:
    """(rep, rep role) -> the monthly counters as payroll figures them, for reps the roster
    says were reps in ``month``; and the reps on the board the roster does not know."""
    figures: dict[tuple[str, Role], dict[str, Any]] = {}
    unknown = []
    for snapshot in snapshots:
        person = roster.people.get(snapshot.rep_id)
        if person is None:
            unknown.append(snapshot.rep_id)
        elif any(period.role is Role.REP for period, _ in segments(person, month)):
            figures[(person.id, Role.REP)] = {
                name: counter_amount(name, value) for name, value in snapshot.month.items()
            }
    return figures, sorted(unknown)


def standings(plan: PayPlan, roster: Roster, month: date, snapshots: Iterable[RepSnapshot]) -> dict[str, Any]:
    """Every award of the plan with its places by group, ranked by payroll's ``rank_awards``."""
    figures, unknown = month_figures(snapshots, roster, month)
    won = rank_awards(plan, roster, month, figures)
    places: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for person, lines in won.items():
        for line in lines:
            places.setdefault(line.award, {}).setdefault(line.group, []).append({
                "rank": line.rank, "rep": person, "value": str(line.value), "amount": str(line.amount),
                "tied": line.tied,
            })  # fmt: skip
    awards = []
    for award in plan.doc.awards:
        problem = live_problem(award)
        groups = places.get(award.id, {}) if problem is None else {}
        unit = KPI[award.by].unit if award.by in KPI else None
        awards.append({
            "id": award.id, "name": award.name, "by": award.by, "within": award.within,
            "ties": award.ties.value, "unit": "money" if unit is Unit.MONEY else "count",
            "amounts": [str(amount) for amount in award.amounts], "live": problem is None, "problem": problem,
            "groups": [{"group": group, "places": sorted(rows, key=lambda p: (p["rank"], p["rep"]))}
                       for group, rows in sorted(groups.items())],
        })  # fmt: skip
    return {"month": f"{month:%Y-%m}", "awards": awards, "unknown": unknown}


def for_screen(ranked: dict[str, Any], plan: PayPlan, team: str | None) -> dict[str, Any]:
    """What one screen shows: a team's screen every place of its own team's (region's) group;
    the floor's screen every place of a floor-wide award and each group's leaders otherwise."""
    region = plan.region_of(team) if team else None
    awards = []
    for award in ranked["awards"]:
        groups = award["groups"]
        if team is not None and award["within"] != "floor":
            groups = [g for g in groups if g["group"] == (team if award["within"] == "team" else region)]
        elif team is None and award["within"] != "floor":
            groups = [{**g, "places": [p for p in g["places"] if p["rank"] == 1]} for g in groups]
        awards.append({**award, "groups": groups})
    unknown = ranked["unknown"]
    return {"month": ranked["month"], "awards": awards, "unknown": unknown[:MAX_UNKNOWN],
            "unknown_more": max(0, len(unknown) - MAX_UNKNOWN)}  # fmt: skip


class AwardBoard:
    """The awards panel of every screen: standings ranked once per change of the floor (and of
    plan or roster), shared by every filter; the month just ended is ranked on the first day
    of a month too, so its final places stay on the board that day."""

    def __init__(self, directory: Path | None, plan: PayPlan | None) -> None:
        self.roster = RosterWatcher(directory, plan)
        self._ranked: dict[date, tuple[int, PayPlan, Roster, dict[str, Any]]] = {}  # month -> ranked at

    def ranked(self, floor: Floor, plan: PayPlan, roster: Roster, month: date) -> dict[str, Any]:
        entry = self._ranked.get(month)
        if entry is None or entry[0] != floor.version or entry[1] is not plan or entry[2] is not roster:
            ranked = standings(plan, roster, month, floor.month_reps(f"{month:%Y-%m}"))
            entry = (floor.version, plan, roster, ranked)
            self._ranked[month] = entry
            for older in sorted(self._ranked)[:-2]:  # this month and the one just ended
                del self._ranked[older]
        return entry[3]

    def panel(self, floor: Floor, plan: PayPlan | None, today: date, team: str | None) -> dict[str, Any]:
        """The panel's JSON: ``state`` ok / no_plan / no_awards / no_roster (``detail`` says why)."""
        if plan is None:
            return {"state": "no_plan", "detail": "CALLFLOOR_PAY_PLAN_FILE is not set"}
        if not plan.doc.awards:
            return {"state": "no_awards", "detail": f"{plan.source} defines no awards"}
        roster = self.roster.roster
        if roster is None:
            return {"state": "no_roster", "detail": self.roster.missing}
        month = today.replace(day=1)
        out = {"state": "ok", **for_screen(self.ranked(floor, plan, roster, month), plan, team)}
        out["final"] = None
        if today.day == 1:
            ended = (month - timedelta(days=1)).replace(day=1)
            out["final"] = for_screen(self.ranked(floor, plan, roster, ended), plan, team)
        return out
