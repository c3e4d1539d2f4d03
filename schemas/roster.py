"""The roster: who is employed, in which role, team and region, from which day.

Only people on the roster are paid (an id anywhere else is a typo until proven otherwise),
a hire or leave date prorates a month, and a role change is effective from a business
day. It lives in ``schemas/`` because more than payroll reads it: the wallboard ranks the
plan's awards month to date (best new hire needs hire dates) with the same roster.
The CSV is parsed by ``payroll.roster``; this module is only its meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum


class Role(StrEnum):
    REP = "rep"
    TEAM_LEAD = "team_lead"
    REGIONAL_MANAGER = "regional_manager"
    ACTING_REGIONAL_MANAGER = "acting_regional_manager"  # 代区域经理: a region's manager, its own pay


class Scope(StrEnum):
    """Whose calls a role is scored on: the person's own, the team's, or the region's."""

    REP = "rep"
    TEAM = "team"
    REGION = "region"


SCOPE_OF: dict[Role, Scope] = {
    Role.REP: Scope.REP,
    Role.TEAM_LEAD: Scope.TEAM,
    Role.REGIONAL_MANAGER: Scope.REGION,
    Role.ACTING_REGIONAL_MANAGER: Scope.REGION,
}


@dataclass(frozen=True)
class RolePeriod:
    """A role held from ``start`` (inclusive) until the next period or the leave date."""

    start: date
    role: Role
    team: str  # the team a rep works in or a lead leads ("" for a region's manager)
    region: str  # the region a manager manages ("" otherwise: a team's region comes from the plan)
    base: Decimal | None  # this person's base in this role, instead of the role's
    line: int  # where it is written in the roster file

    @property
    def scope(self) -> Scope:
        return SCOPE_OF[self.role]


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    hired: date
    left: date | None  # last day employed (inclusive)
    periods: tuple[RolePeriod, ...]  # ascending start; the first starts on the hire date
    line: int

    def employed(self, day: date) -> bool:
        return self.hired <= day and (self.left is None or day <= self.left)

    def period_on(self, day: date) -> RolePeriod | None:
        """The role in force on ``day``; None when not employed that day."""
        if not self.employed(day):
            return None
        chosen = None
        for period in self.periods:
            if period.start <= day:
                chosen = period
        return chosen


@dataclass(frozen=True)
class Roster:
    source: str  # the file it was read from (errors name it)
    people: Mapping[str, Person]

    def __contains__(self, person: object) -> bool:
        return person in self.people
