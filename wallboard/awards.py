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
from collections.abc import Collection, Iterable
from dataclasses import dataclass
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
# Ranking 1,000 reps costs about 15 ms (100: 1 ms; measured here under load): at most twice a
# second, not on every push (up to ten a second at 2,000 CDR/s).
RANK_EVERY_SECONDS = 0.5


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


def reps_in(roster: Roster, month: date) -> frozenset[str]:
    """The people who held the rep role on some day of ``month`` they were employed (payroll's
    own split of a month, ``segments``): the people a statement figures as reps."""
    return frozenset(
        person.id
        for person in roster.people.values()
        if any(period.role is Role.REP for period, _ in segments(person, month))
    )


def month_figures(
    snapshots: Iterable[RepSnapshot], roster: Roster, reps: Collection[str]
) -> tuple[dict[tuple[str, Role], dict[str, Any]], list[str]]:
    """(rep, rep role) -> the monthly counters as payroll figures them, for ``reps`` (those the
    roster says were reps in the month); and the reps on the board the roster does not know."""
    figures: dict[tuple[str, Role], dict[str, Any]] = {}
    unknown = []
    for snapshot in snapshots:
        if snapshot.rep_id not in roster.people:
            unknown.append(snapshot.rep_id)
        elif snapshot.rep_id in reps:
            figures[(snapshot.rep_id, Role.REP)] = {
                name: counter_amount(name, value) for name, value in snapshot.month.items()
            }
    return figures, sorted(unknown)


def standings(
    plan: PayPlan,
    roster: Roster,
    month: date,
    snapshots: Iterable[RepSnapshot],
    reps: Collection[str] | None = None,
) -> dict[str, Any]:
    """Every award of the plan with its places by group, ranked by payroll's ``rank_awards``
    (``reps``: ``reps_in(roster, month)``, if the caller keeps it)."""
    figures, unknown = month_figures(snapshots, roster, reps_in(roster, month) if reps is None else reps)
    won = rank_awards(plan, roster, month, figures)
    places: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for person, lines in won.items():
        for line in lines:
            places.setdefault(line.award, {}).setdefault(line.group, []).append({
                "rank": line.rank, "rep": person, "value": str(line.value), "amount": str(line.amount),
                "tied": line.tied,
            })  # fmt: skip
    awards: list[dict[str, Any]] = []
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


@dataclass
class _Ranked:
    """One month's standings and what they were ranked from."""

    version: int  # the floor's version when last checked
    plan: PayPlan
    roster: Roster
    figures: dict[str, tuple[int, ...]]  # rep -> the month counters ranked
    at: float  # when ranked
    standings: dict[str, Any]


class AwardBoard:
    """The awards panel of every screen: standings ranked when the month's figures change (not
    on every dial), at most every ``RANK_EVERY_SECONDS``, and shared by every filter; the month
    just ended is ranked on the first day of a month too, so its final places stay on the board
    that day."""

    def __init__(self, directory: Path | None, plan: PayPlan | None) -> None:
        self.roster = RosterWatcher(directory, plan)
        self._ranked: dict[date, _Ranked] = {}
        self._reps: tuple[Roster, date, frozenset[str]] | None = None

    def _reps_in(self, roster: Roster, month: date) -> frozenset[str]:
        if self._reps is None or self._reps[0] is not roster or self._reps[1] != month:
            self._reps = (roster, month, reps_in(roster, month))
        return self._reps[2]

    def ranked(self, floor: Floor, plan: PayPlan, roster: Roster, month: date, now: float) -> dict[str, Any]:
        """The month's standings as of ``now`` (a sale shows within ``RANK_EVERY_SECONDS`` plus
        the next push, at most ``MAX_PUSH_SECONDS`` later on a floor gone quiet)."""
        entry = self._ranked.get(month)
        same = entry is not None and entry.plan is plan and entry.roster is roster
        if entry is not None and same and entry.version == floor.version:
            return entry.standings
        snapshots = floor.month_reps(f"{month:%Y-%m}")
        figures = {s.rep_id: tuple(s.month.values()) for s in snapshots}
        if entry is not None and same and (entry.figures == figures or now - entry.at < RANK_EVERY_SECONDS):
            if entry.figures == figures:
                entry.version = floor.version
            return entry.standings
        ranked = standings(plan, roster, month, snapshots, self._reps_in(roster, month))
        self._ranked[month] = _Ranked(floor.version, plan, roster, figures, now, ranked)
        for older in sorted(self._ranked)[:-2]:  # this month and the one just ended
            del self._ranked[older]
        return ranked

    def panel(
        self, floor: Floor, plan: PayPlan | None, today: date, team: str | None, now: float
    ) -> dict[str, Any]:
        """The panel's JSON: ``state`` ok / no_plan / no_awards / no_roster (``detail`` says why)."""
        if plan is None:
            return {"state": "no_plan", "detail": "CALLFLOOR_PAY_PLAN_FILE is not set"}
        if not plan.doc.awards:
            return {"state": "no_awards", "detail": f"{plan.source} defines no awards"}
        roster = self.roster.roster
        if roster is None:
            return {"state": "no_roster", "detail": self.roster.missing}
        month = today.replace(day=1)
        out = {"state": "ok", **for_screen(self.ranked(floor, plan, roster, month, now), plan, team)}
        out["final"] = None
        if today.day == 1:
            ended = (month - timedelta(days=1)).replace(day=1)
            out["final"] = for_screen(self.ranked(floor, plan, roster, ended, now), plan, team)
        return out
