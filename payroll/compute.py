"""Pure Decimal computation of a month's statements: no I/O, so every rule is unit-tested.

Rounding rule (one, stated on every output): ratios (attainment, points, score) are
rounded half-up to 4 decimal places; every money figure is rounded half-up to the cent
once, where it is computed; totals are sums of those rounded figures, so
total = base + performance + commission + bonus + allowances (+ adjustments) exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from payroll.inputs import Allowance, Inputs
from payroll.plan import KpiSpec, PayPlan, PersonPeriod, Role, Source
from schemas.kpis import KPI, Unit
from schemas.pay_month import Activity, MonthData

RATIO, CENT = Decimal("0.0001"), Decimal("0.01")
ROUNDING_RULE = "ratios half-up to 4 places; each money figure half-up to the cent; totals are sums"
ZERO = Decimal(0)


def ratio(value: Decimal) -> Decimal:
    return value.quantize(RATIO, rounding=ROUND_HALF_UP)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class KpiLine:
    name: str
    actual: Decimal | None  # None: not known (no sales for price control)
    target: Decimal | None  # None or 0: attainment not applicable, weight shared by the others
    attainment: Decimal | None
    weight: Decimal
    points: Decimal | None


@dataclass(frozen=True)
class CommissionLine:
    revenue: Decimal
    attainment: Decimal | None
    tier_from: Decimal
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True)
class BonusLine:
    by: str
    group: str
    value: Decimal
    rank: int
    amount: Decimal


@dataclass(frozen=True)
class AdjustmentLine:
    month: str  # the closed month it corrects, YYYY-MM
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class Statement:
    person: str
    name: str
    role: Role
    team: str
    region: str
    base: Decimal
    performance_max: Decimal
    kpis: tuple[KpiLine, ...]
    score: Decimal
    floor_met: bool
    performance: Decimal
    commission: CommissionLine | None
    bonus: BonusLine | None
    allowances: tuple[Allowance, ...]
    adjustments: tuple[AdjustmentLine, ...] = ()

    @property
    def allowances_total(self) -> Decimal:
        return cents(sum((a.amount for a in self.allowances), ZERO))

    @property
    def adjustments_total(self) -> Decimal:
        return cents(sum((a.amount for a in self.adjustments), ZERO))

    @property
    def total(self) -> Decimal:
        commission = self.commission.amount if self.commission else ZERO
        bonus = self.bonus.amount if self.bonus else ZERO
        return (
            self.base + self.performance + commission + bonus + self.allowances_total + self.adjustments_total
        )


def attainment(actual: Decimal | None, target: Decimal | None) -> Decimal | None:
    """actual / target; not applicable (None) against a missing or zero target."""
    if actual is None or target is None or target == 0:
        return None
    return ratio(actual / target)


def kpi_points(spec: KpiSpec, weight: Decimal, attained: Decimal | None) -> Decimal | None:
    if attained is None:
        return None
    counted = ZERO if attained < spec.floor else min(attained, spec.cap)
    return ratio(weight * counted)


def score(lines: Iterable[KpiLine]) -> Decimal:
    """Σ points over the applicable KPIs, rescaled so their weights count as 1."""
    applicable = [line for line in lines if line.points is not None]
    weights = sum((line.weight for line in applicable), ZERO)
    if weights == 0:
        return ZERO
    return ratio(sum((line.points for line in applicable), ZERO) / weights)  # type: ignore[misc]


def commission_tier(plan: PayPlan, revenue: Decimal, target: Decimal | None) -> tuple[Decimal, Decimal]:
    """(tier start, rate): the highest tier with revenue >= start x target, compared exactly (not on
    the rounded attainment: 7,999.99 of 10,000 is under 80 %); a boundary is in the higher tier.
    No target, or a target of 0: the first tier."""
    assert plan.doc.commission is not None
    chosen = plan.doc.commission.tiers[0]
    for tier in plan.doc.commission.tiers:
        if target and revenue >= tier.from_ * target:
            chosen = tier
    return chosen.from_, chosen.rate


def competition_ranks(values: Mapping[str, Decimal]) -> dict[str, int]:
    """1, 1, 3: tied values share a place and the next place is skipped; only positive values rank."""
    ordered = sorted((v, p) for p, v in values.items() if v > 0)
    ordered.sort(key=lambda item: item[0], reverse=True)
    ranks: dict[str, int] = {}
    for i, (value, person) in enumerate(ordered):
        previous = ordered[i - 1] if i else None
        ranks[person] = ranks[previous[1]] if previous and previous[0] == value else i + 1
    return ranks


class _Index:
    """The month's activity by rep and by team, and its targets by (scope, id, metric): built once,
    so a floor of thousands of reps costs one pass, not one pass per person."""

    def __init__(self, data: MonthData) -> None:
        self.data = data
        self.by_rep: dict[str, Activity] = {}
        self.by_team: dict[str, Activity] = {}
        for (rep, team), act in data.activity.items():
            self.by_rep.setdefault(rep, Activity()).add(act)
            self.by_team.setdefault(team, Activity()).add(act)
        self.targets = {
            (scope, id_, metric): (period, value) for scope, id_, _t, period, metric, value in data.targets
        }

    def target(self, scope: str, id_: str, metric: str, days: int) -> Decimal | None:
        found = self.targets.get((scope, id_, metric))
        if found is None:
            return None
        period, value = found
        return Decimal(value) * (days if period == "day" else 1)


class _Scope:
    """The calls and targets one statement is scored on: a rep's own, a team's, a region's."""

    def __init__(self, index: _Index, kind: str, rep: str, teams: list[str]) -> None:
        self.index, self.kind, self.rep, self.teams = index, kind, rep, teams
        self.activity = Activity()
        for act in [index.by_rep.get(rep)] if kind == "rep" else [index.by_team.get(t) for t in teams]:
            if act is not None:
                self.activity.add(act)

    def actual(self, name: str) -> Decimal:
        value = self.activity.counters.get(name, 0)
        return Decimal(value).scaleb(-2) if KPI[name].unit is Unit.MONEY else Decimal(value)

    def price_control(self) -> Decimal | None:
        act = self.activity
        return ratio(Decimal(act.sold_cents) / act.list_cents) if act.list_cents else None

    def target(self, metric: str) -> Decimal | None:
        """The month's target: monthly as set; daily x business days dialed (per rep or per team)."""
        data = self.index.data
        if self.kind == "rep":
            found = [self.index.target("rep", self.rep, metric, data.rep_days.get(self.rep, 0))]
        else:
            found = [self.index.target("team", t, metric, data.team_days.get(t, 0)) for t in self.teams]
        known = [value for value in found if value is not None]
        return sum(known, ZERO) if known else None


def compute_month(
    plan: PayPlan,
    data: MonthData,
    inputs: Inputs,
    adjustments: Mapping[str, list[AdjustmentLine]] | None = None,
) -> list[Statement]:
    """One statement per person, ordered by person id."""
    people = {rep for rep, _ in data.activity} | set(plan.doc.people) | inputs.people()
    people |= {row[1] for row in data.targets if row[0] == "rep"}
    target_team = {row[1]: row[2] for row in data.targets if row[0] == "rep"}
    drafts = []
    index = _Index(data)
    for person in sorted(people):
        period = plan.period_on(person, data.last_day)
        team = period.team or data.last_team.get(person) or target_team.get(person, "")
        region = period.region or plan.region_of(team) or ""
        if period.role is Role.REP:
            scope = _Scope(index, "rep", person, [])
        elif period.role is Role.TEAM_LEAD:
            scope = _Scope(index, "team", person, [team])
        else:
            scope = _Scope(index, "region", person, plan.doc.regions.get(region, []))
        drafts.append((person, period, team, region, scope))
    statements = [_statement(plan, inputs, *draft, adjustments or {}) for draft in drafts]
    return _with_bonus(plan, statements, {draft[0]: draft[4] for draft in drafts})


def _statement(
    plan: PayPlan,
    inputs: Inputs,
    person: str,
    period: PersonPeriod,
    team: str,
    region: str,
    scope: _Scope,
    adjustments: Mapping[str, list[AdjustmentLine]],
) -> Statement:
    pay = plan.doc.roles[period.role]
    lines = []
    for name, weight in pay.weights.items():
        spec = plan.doc.kpis[name]
        actual, target = _actual_and_target(spec, name, person, scope, inputs)
        attained = attainment(actual, target)
        lines.append(KpiLine(name, actual, target, attained, weight, kpi_points(spec, weight, attained)))
    total_score = score(lines)
    floor_met = total_score >= plan.doc.score_floor and any(line.points is not None for line in lines)
    performance = cents(pay.performance * total_score if floor_met else ZERO)
    commission = None
    if plan.doc.commission and period.role in plan.doc.commission.roles:
        revenue = scope.actual("revenue")
        target = scope.target("revenue")
        attained = attainment(revenue, target)
        start, rate = commission_tier(plan, revenue, target)
        commission = CommissionLine(revenue, attained, start, rate, cents(revenue * rate))
    return Statement(
        person=person,
        name=period.name or person,
        role=period.role,
        team=team,
        region=region,
        base=cents(pay.base),
        performance_max=cents(pay.performance),
        kpis=tuple(lines),
        score=total_score,
        floor_met=floor_met,
        performance=performance,
        commission=commission,
        bonus=None,
        allowances=tuple(inputs.allowances.get(person, ())),
        adjustments=tuple(adjustments.get(person, ())),
    )


def _actual_and_target(
    spec: KpiSpec, name: str, person: str, scope: _Scope, inputs: Inputs
) -> tuple[Decimal | None, Decimal | None]:
    if spec.source is Source.CALLS:
        return scope.actual(name), spec.target if spec.target is not None else scope.target(name)
    if spec.source is Source.PRICE_CONTROL:
        return scope.price_control(), spec.target
    row = inputs.kpis.get(name, {}).get(person)
    if row is None:
        return (ZERO if name in inputs.kpis else None), spec.target
    return row.actual, row.target if row.target is not None else spec.target


def _with_bonus(plan: PayPlan, statements: list[Statement], scopes: Mapping[str, _Scope]) -> list[Statement]:
    bonus = plan.doc.ranking_bonus
    if bonus is None:
        return statements
    groups: dict[str, dict[str, Decimal]] = {}
    for st in statements:
        if st.role in bonus.roles:
            group = {"team": st.team, "region": st.region, "floor": "floor"}[bonus.within]
            groups.setdefault(group, {})[st.person] = scopes[st.person].actual(bonus.by)
    awarded: dict[str, BonusLine] = {}
    for group, values in groups.items():
        for person, rank in competition_ranks(values).items():
            amount = bonus.amounts[rank - 1] if rank <= len(bonus.amounts) else ZERO
            if not amount:
                continue
            awarded[person] = BonusLine(bonus.by, group, values[person], rank, cents(amount))
    return [replace(st, bonus=awarded.get(st.person)) for st in statements]
