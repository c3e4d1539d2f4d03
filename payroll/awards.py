"""The plan's awards ranked from figures: a pure function, shared by the statements and the
wallboard's month-to-date standings, so the board's leader on the last evening is the one paid.

Figures are per (person, role held): what the person was scored on in that role (a rep's own
calls, a lead's team's), summed over the days in that role, plus any csv KPI an award ranks
(the month's figure from its file). An award ranks the people who held
one of its roles during the month (and, for a new-hire award, were hired within its days of
the month's last day) within its group; only a positive figure takes a place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from payroll.plan import Award, PayPlan, Ties
from schemas.pay_month import month_days
from schemas.roster import Role, RolePeriod, Roster

Figures = Mapping[tuple[str, Role], Mapping[str, Decimal]]  # (person, role) -> counter -> value
ZERO = Decimal(0)


@dataclass(frozen=True)
class AwardLine:
    award: str  # the award's id
    name: str
    by: str
    group: str  # the team, the region, or "floor"
    value: Decimal
    rank: int
    amount: Decimal
    tied: int  # how many share this place (1: alone)


def rank_awards(plan: PayPlan, roster: Roster, month: date, figures: Figures) -> dict[str, list[AwardLine]]:
    """person -> the places they took, every award of the plan, in the plan's order."""
    won: dict[str, list[AwardLine]] = {}
    last = month_days(month)[-1]
    for award in plan.doc.awards:
        entries: dict[str, dict[str, tuple[Decimal, Decimal]]] = {}
        for person in sorted(roster.people.values(), key=lambda p: p.id):
            held = [(person.id, role) for role in award.roles if (person.id, role) in figures]
            if not held or (
                award.hired_within_days and (last - person.hired).days >= award.hired_within_days
            ):
                continue
            value = sum((figures[key].get(award.by, ZERO) for key in held), ZERO)
            second = (
                sum((figures[key].get(award.then_by, ZERO) for key in held), ZERO) if award.then_by else ZERO
            )
            group = _group(plan, award, _last_period(person.periods, award, last))
            entries.setdefault(group, {})[person.id] = (value, second)
        for group, values in entries.items():
            for person_id, line in _places(award, group, values).items():
                won.setdefault(person_id, []).append(line)
    return won


def _last_period(periods: tuple[RolePeriod, ...], award: Award, last: date) -> RolePeriod:
    """The person's last period in one of the award's roles that began by the month's end."""
    chosen = [p for p in periods if p.role in award.roles and p.start <= last]
    return chosen[-1] if chosen else periods[-1]


def _group(plan: PayPlan, award: Award, period: RolePeriod) -> str:
    if award.within == "team":
        return period.team
    if award.within == "region":
        return period.region or plan.region_of(period.team)
    return "floor"


def _places(award: Award, group: str, values: Mapping[str, tuple[Decimal, Decimal]]) -> dict[str, AwardLine]:
    """Competition places (1, 1, 3) on (figure, tie-breaker); amounts by the award's tie rule.
    Ties are neighbours in the ordered list, and a place after the last paid one pays nothing,
    so a floor of thousands costs a sort, not a scan of everyone per place."""
    ordered = sorted(((v, p) for p, v in values.items() if v[0] > 0), key=lambda item: item[1])
    ordered.sort(key=lambda item: item[0], reverse=True)
    out: dict[str, AwardLine] = {}
    i = 0
    while i < min(len(ordered), len(award.amounts)):
        end = i + 1
        while end < len(ordered) and ordered[end][0] == ordered[i][0]:
            end += 1
        tied = [p for _, p in ordered[i:end]]
        rank = i + 1
        places = award.amounts[rank - 1 : rank - 1 + len(tied)]
        if award.ties is Ties.SHARE:
            amount = award.amounts[rank - 1] if rank <= len(award.amounts) else ZERO
        else:
            amount = (sum(places, ZERO) / len(tied)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if amount > 0:
            for person in tied:
                out[person] = AwardLine(
                    award.id, award.name, award.by, group, values[person][0], rank, amount, len(tied)
                )
        i += len(tied)
    return out
