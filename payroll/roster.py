"""Reading the roster CSV the plan names, checked against the plan (file, line, column).

One row per role a person held: the first row (``from`` empty) starts on the hire date,
each later row from its ``from`` day. ``name``, ``hired`` and ``left`` are written on the
first row and may be repeated (identically) on the others. A team's region is the plan's;
a regional manager's region must be one of the plan's; a team has one lead and a region
one manager on any day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from payroll.csv_rows import Row, cell, day, fail, money, required, rows
from payroll.plan import PayPlan
from schemas.roster import Person, Role, RolePeriod, Roster, Scope

REQUIRED = ("person_id", "name", "role", "hired")
OPTIONAL = ("from", "team", "region", "left", "base")
ROLES = ", ".join(role.value for role in Role)


def parse_roster(plan: PayPlan, source: str, text: str) -> Roster:
    """The roster in ``text`` (read from ``source``); raises PayPlanError naming line and column."""
    firsts: dict[str, tuple[int, str, date, date | None]] = {}
    periods: dict[str, list[RolePeriod]] = defaultdict(list)
    for line, row in rows(source, text, REQUIRED, OPTIONAL):
        person = required(source, line, row, "person_id")
        role = _role(plan, source, line, cell(row, "role"))
        if person not in firsts:
            name = required(source, line, row, "name")
            hired = day(source, line, "hired", required(source, line, row, "hired"))
            left = day(source, line, "left", cell(row, "left")) if cell(row, "left") else None
            if left is not None and left < hired:
                raise fail(source, line, "left", f"{left} is before the hire date {hired}")
            firsts[person] = (line, name, hired, left)
        first_line, name, hired, left = firsts[person]
        for column, value in (("name", name), ("hired", str(hired)), ("left", str(left or ""))):
            if line != first_line and cell(row, column) and cell(row, column) != value:
                raise fail(source, line, column, f"differs from line {first_line} ({value or 'empty'})")
        start = _start(source, line, row, hired, left, periods[person])
        team, region = _scope(plan, source, line, row, role)
        base = money(source, line, "base", cell(row, "base")) if cell(row, "base") else None
        periods[person].append(RolePeriod(start, role, team, region, base, line))
    people = {
        person: Person(person, name, hired, left, tuple(periods[person]), line)
        for person, (line, name, hired, left) in firsts.items()
    }
    _one_head(source, people, Scope.TEAM, "team", "lead")
    _one_head(source, people, Scope.REGION, "region", "manager")
    return Roster(source, people)


def _role(plan: PayPlan, source: str, line: int, text: str) -> Role:
    try:
        role = Role(text)
    except ValueError:
        raise fail(source, line, "role", f"unknown role {text!r} (roles: {ROLES})") from None
    if role not in plan.doc.roles:
        raise fail(source, line, "role", f"role {role.value} has no entry under `roles:` in {plan.source}")
    return role


def _start(
    source: str, line: int, row: Row, hired: date, left: date | None, earlier: list[RolePeriod]
) -> date:
    text = cell(row, "from")
    if not earlier:
        if text and day(source, line, "from", text) != hired:
            raise fail(source, line, "from", "a person's first role starts on the hire date: leave it empty")
        return hired
    if not text:
        raise fail(source, line, "from", "a later role needs the day it takes effect")
    start = day(source, line, "from", text)
    if start <= earlier[-1].start:
        raise fail(source, line, "from", f"must be after {earlier[-1].start} (line {earlier[-1].line})")
    if left is not None and start > left:
        raise fail(source, line, "from", f"is after the leave date {left}")
    return start


def _scope(plan: PayPlan, source: str, line: int, row: Row, role: Role) -> tuple[str, str]:
    """(team, region) of a period: a team from the plan's regions, or a region of the plan."""
    team, region = cell(row, "team"), cell(row, "region")
    regions = plan.doc.regions
    if role in (Role.REP, Role.TEAM_LEAD):
        if not team:
            raise fail(source, line, "team", f"a {role.value} needs a team")
        found = plan.region_of(team)
        if regions and not found:
            raise fail(
                source, line, "team", f"team {team} is in no region of the plan ({', '.join(regions)})"
            )
        if region and region != found:
            raise fail(source, line, "region", f"team {team} is in region {found or 'none'} in the plan")
        return team, found
    if team:
        raise fail(source, line, "team", f"a {role.value} manages a region, not a team: leave it empty")
    if not region:
        raise fail(source, line, "region", f"a {role.value} needs a region")
    if region not in regions:
        known = ", ".join(regions) or "the plan has no `regions:`"
        raise fail(source, line, "region", f"unknown region {region!r} ({known})")
    return "", region


def _one_head(source: str, people: dict[str, Person], scope: Scope, what: str, head: str) -> None:
    """A team has one lead, a region one manager (acting or not), on any day."""
    held: dict[str, list[tuple[date, date, Person, RolePeriod]]] = defaultdict(list)
    for person in people.values():
        for i, period in enumerate(person.periods):
            if period.scope is not scope:
                continue
            nxt = person.periods[i + 1].start - timedelta(days=1) if i + 1 < len(person.periods) else None
            end = min(d for d in (nxt, person.left, date.max) if d is not None)
            key = period.team if scope is Scope.TEAM else period.region
            for start, stop, other, theirs in held[key]:
                if other.id != person.id and period.start <= stop and start <= end:
                    later = max(period, theirs, key=lambda p: p.line)
                    earlier = theirs if later is period else period
                    name = other.id if later is period else person.id
                    raise fail(
                        source, later.line, "role",
                        f"{what} {key} already has {head} {name} (line {earlier.line}) on "
                        f"{max(start, period.start)}",
                    )  # fmt: skip
            held[key].append((period.start, end, person, period))
