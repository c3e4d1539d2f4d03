"""Pure Decimal computation of a month's statements: no I/O, so every rule is unit-tested.

Rounding rule (one, stated on every output): ratios (attainment, points, score) are cut,
never rounded up, to 4 decimal places, and every floor, cap, tier and rank is decided on
that shown figure. Thresholds are written with at most 4 places, so a decision on the shown
figure is the exact decision: 0.59995 shows 0.5999 and misses a 0.60 floor, and a statement
can never show a figure on the good side of a line it was judged to miss. Every money figure
is rounded half-up to the cent once, where it is computed; totals are sums of those figures.

A person's month is split by the roster into parts: the days in each role (a hire on the
10th has one part from the 10th; a promotion on the 15th two). Each part is paid its share
of the role's base and performance pay by pay days (计薪天数, calendar or working days as
the plan says), scored on the calls of its own days, and paid commission on those calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import cached_property

from payroll.awards import AwardLine, rank_awards
from payroll.inputs import Allowance, Inputs
from payroll.plan import MONEY_LIMIT, WEEKDAYS, KpiSpec, Missing, PayDays, PayPlan, PayPlanError, Source, Tier
from schemas.kpis import KPI, Unit
from schemas.pay_month import Activity, MonthData, month_days
from schemas.roster import SCOPE_OF, Person, Role, RolePeriod, Roster, Scope
from schemas.yaml_document import Problem

RATIO, CENT = Decimal("0.0001"), Decimal("0.01")
ROUNDING_RULE = (
    "ratios cut (never rounded up) to 4 places, and every floor, cap, tier and rank decided on that "
    "shown figure; each money figure half-up to the cent; totals are sums"
)
ZERO = Decimal(0)


def ratio(value: Decimal) -> Decimal:
    return value.quantize(RATIO, rounding=ROUND_DOWN)


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
    kind: str  # "commission" on one's own revenue, "override" on a team's or region's
    revenue: Decimal
    target: Decimal | None
    attainment: Decimal | None
    tier_from: Decimal
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True)
class AdjustmentLine:
    month: str  # the closed month it corrects, YYYY-MM
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class Part:
    """The days of one role in the month, and what they pay."""

    role: Role
    team: str
    region: str
    start: date
    end: date
    pay_days: int  # 计薪天数 in this part
    month_pay_days: int  # 计薪天数 of the whole month
    base_full: Decimal  # the month's base in this role (the person's own, if the roster sets one)
    base: Decimal  # base_full x pay_days / month_pay_days
    performance_max: Decimal
    kpis: tuple[KpiLine, ...]
    score: Decimal
    floor_met: bool
    performance: Decimal
    commission: CommissionLine | None

    @property
    def scope(self) -> Scope:
        return SCOPE_OF[self.role]

    @property
    def commission_amount(self) -> Decimal:
        return self.commission.amount if self.commission else ZERO

    @property
    def total(self) -> Decimal:
        return self.base + self.performance + self.commission_amount


@dataclass(frozen=True)
class Statement:
    person: str
    name: str
    hired: date
    left: date | None
    parts: tuple[Part, ...]
    awards: tuple[AwardLine, ...]
    allowances: tuple[Allowance, ...]
    adjustments: tuple[AdjustmentLine, ...] = ()

    @property
    def last(self) -> Part | None:
        return self.parts[-1] if self.parts else None

    @property
    def role(self) -> Role:
        return self.parts[-1].role if self.parts else Role.REP

    @property
    def team(self) -> str:
        return self.parts[-1].team if self.parts else ""

    @property
    def region(self) -> str:
        return self.parts[-1].region if self.parts else ""

    @property
    def base(self) -> Decimal:
        return sum((p.base for p in self.parts), ZERO)

    @property
    def performance(self) -> Decimal:
        return sum((p.performance for p in self.parts), ZERO)

    @property
    def commission(self) -> Decimal:
        return sum((p.commission_amount for p in self.parts), ZERO)

    @property
    def awards_total(self) -> Decimal:
        return sum((a.amount for a in self.awards), ZERO)

    @property
    def allowances_total(self) -> Decimal:
        return cents(sum((a.amount for a in self.allowances), ZERO))

    @property
    def adjustments_total(self) -> Decimal:
        return cents(sum((a.amount for a in self.adjustments), ZERO))

    @property
    def total(self) -> Decimal:
        parts = sum((p.total for p in self.parts), ZERO)
        return parts + self.awards_total + self.allowances_total + self.adjustments_total


def attainment(actual: Decimal | None, target: Decimal | None) -> Decimal | None:
    """actual / target, cut to 4 places; not applicable (None) against a missing or zero target."""
    if actual is None or target is None or target == 0:
        return None
    return ratio(actual / target)


def kpi_points(spec: KpiSpec, weight: Decimal, attained: Decimal | None) -> Decimal | None:
    """weight x attainment as shown, 0 under the floor, at most the cap."""
    if attained is None:
        return None
    counted = ZERO if attained < spec.floor else min(attained, spec.cap)
    return ratio(weight * counted)


def score(lines: Iterable[KpiLine]) -> Decimal:
    """Σ points over the applicable KPIs, rescaled so their weights count as 1."""
    applicable = [(line.weight, line.points) for line in lines if line.points is not None]
    weights = sum((weight for weight, _ in applicable), ZERO)
    if weights == 0:
        return ZERO
    return ratio(sum((points for _, points in applicable), ZERO) / weights)


def tier_of(tiers: list[Tier], attained: Decimal | None) -> Tier:
    """The highest tier whose start the shown attainment reaches (a boundary is in the higher
    tier); no target (None): the first tier."""
    chosen = tiers[0]
    for tier in tiers:
        if attained is not None and attained >= tier.from_:
            chosen = tier
    return chosen


def pay_days(plan: PayPlan, days: Iterable[date]) -> int:
    """计薪天数 among ``days``: all of them, or the plan's working weekdays."""
    spec = plan.doc.roster
    if spec.pay_days is PayDays.CALENDAR:
        return sum(1 for _ in days)
    working = {WEEKDAYS.index(name) for name in spec.working_weekdays}
    return sum(1 for day in days if day.weekday() in working)


class _Index:
    """The month's calls by rep and by team per day, and the targets by rep: built once, so a
    floor of thousands of people costs one pass, not one pass per person."""

    def __init__(self, plan: PayPlan, data: MonthData, roster: Roster) -> None:
        self.plan, self.data, self.roster = plan, data, roster
        self.by_rep: dict[str, dict[date, Activity]] = {}
        for (rep, _team, day), act in data.days.items():
            _put(self.by_rep.setdefault(rep, {}), day, act)
        self.targets: dict[str, dict[tuple[str, str], Decimal]] = {}
        for scope, id_, _team, period, metric, value in data.targets:
            if scope == "rep":
                self.targets.setdefault(id_, {})[(period, metric)] = Decimal(value)
        self.periods: dict[str, str] = {}  # metric -> "day" or "month" (a daily target wins)
        for targets in self.targets.values():
            for period, metric in targets:
                if self.periods.get(metric) != "day":
                    self.periods[metric] = period
        self.team_people: dict[str, list[Person]] = {}  # team -> people who were reps in it
        for person in roster.people.values():
            for team in {p.team for p in person.periods if p.role is Role.REP}:
                self.team_people.setdefault(team, []).append(person)
        self.month_pay_days = pay_days(plan, month_days(data.month))
        self._paid = {day: pay_days(plan, [day]) for day in month_days(data.month)}

    def pay_days(self, days: Iterable[date]) -> int:
        """:func:`pay_days` of days of this month, from a table made once."""
        return sum(self._paid[day] for day in days)

    @cached_property
    def by_team(self) -> dict[str, dict[date, Activity]]:
        """team -> day -> the calls carrying the team (built when a lead or manager is paid)."""
        out: dict[str, dict[date, Activity]] = {}
        for (_rep, team, day), act in self.data.days.items():
            out.setdefault(team, {}).setdefault(day, Activity()).add(act)
        return out

    @cached_property
    def team_reps(self) -> dict[str, dict[str, set[date]]]:
        """team -> rep -> the days the rep dialed for it."""
        out: dict[str, dict[str, set[date]]] = {}
        for rep, team, day in self.data.days:
            out.setdefault(team, {}).setdefault(rep, set()).add(day)
        return out

    def activity(self, scope: Scope, key: str, days: set[date]) -> Activity:
        """The calls a part is scored on: a rep's own, a team's, a region's, on ``days``."""
        out = Activity()
        if scope is Scope.REP:
            sources = [self.by_rep.get(key, {})]
        else:
            sources = [self.by_team.get(team, {}) for team in self._teams(scope, key)]
        for by_day in sources:
            for day, act in by_day.items():
                if day in days:
                    out.add(act)
        return out

    def _teams(self, scope: Scope, key: str) -> list[str]:
        return [key] if scope is Scope.TEAM else self.plan.doc.regions.get(key, [])

    def target(self, scope: Scope, key: str, metric: str, days: set[date]) -> Decimal | None:
        """The part's target: a person's own (a daily one x the days they dialed, a monthly one x
        their share of pay days); a lead's or manager's is the sum of their people's own targets
        for the days each of them worked in the team on ``days``."""
        if scope is Scope.REP:
            return self._own(key, metric, days, self.by_rep.get(key, {}).keys())
        found = []
        for team in self._teams(scope, key):
            if self.periods.get(metric) == "day":
                for rep, dialed in self.team_reps.get(team, {}).items():
                    found.append(self._own(rep, metric, days, dialed))
            elif self.periods.get(metric) == "month":
                for person in self.team_people.get(team, []):
                    rep_days = {d for d in days if _in(person.period_on(d), Role.REP, team)}
                    if rep_days:
                        found.append(self._own(person.id, metric, rep_days, ()))
        known = [value for value in found if value is not None]
        return sum(known, ZERO) if known else None

    def _own(self, rep: str, metric: str, days: set[date], dialed: Iterable[date]) -> Decimal | None:
        targets = self.targets.get(rep, {})
        if ("day", metric) in targets:
            return targets[("day", metric)] * sum(1 for day in dialed if day in days)
        if ("month", metric) in targets:
            share = Decimal(self.pay_days(days)) / Decimal(self.month_pay_days or 1)
            return cents(targets[("month", metric)] * share)  # shown to the cent, as it is used
        return None


def _put(by_day: dict[date, Activity], day: date, act: Activity) -> None:
    """Index ``act`` under ``day``; a second activity that day is summed into a new one (the
    month's own objects are never changed)."""
    found = by_day.get(day)
    if found is None:
        by_day[day] = act
    else:
        merged = Activity()
        merged.add(found)
        merged.add(act)
        by_day[day] = merged


def _in(period: RolePeriod | None, role: Role, team: str) -> bool:
    return period is not None and period.role is role and period.team == team


def segments(person: Person, month: date) -> list[tuple[RolePeriod, list[date]]]:
    """The person's days employed in the month, grouped by the role period in force."""
    out: list[tuple[RolePeriod, list[date]]] = []
    for day in month_days(month):
        period = person.period_on(day)
        if period is None:
            continue
        if out and out[-1][0] is period:
            out[-1][1].append(day)
        else:
            out.append((period, [day]))
    return out


def check_calls(data: MonthData, roster: Roster) -> None:
    """Every call's rep is on the roster and employed on the call's day; else the run stops."""
    source = f"ClickHouse calls of {data.month:%Y-%m}"
    people = roster.people
    bad = [(rep, day) for rep, _team, day in data.days if rep not in people or not people[rep].employed(day)]
    for rep, day in sorted(bad)[:1]:
        person = people.get(rep)
        hint = f"(`callfloor payroll explain --month {data.month:%Y-%m} --rep {rep}` lists them)"
        if person is None:
            message = f"{rep!r} has calls but is not on the roster ({roster.source}) {hint}"
            raise PayPlanError(source, [Problem(None, "rep_id", message)])
        if not person.employed(day):
            span = f"{person.hired} to {person.left or 'now'}"
            where = f"{roster.source} line {person.line}"
            message = f"{rep!r} has calls on {day}, outside employment {span} ({where}) {hint}"
            raise PayPlanError(source, [Problem(None, "rep_id", message)])


def compute_month(
    plan: PayPlan,
    data: MonthData,
    inputs: Inputs,
    adjustments: Mapping[str, list[AdjustmentLine]] | None = None,
) -> list[Statement]:
    """One statement per person on the roster employed in the month (or owed an adjustment),
    ordered by person id."""
    roster = inputs.roster
    check_calls(data, roster)
    index = _Index(plan, data, roster)
    adjustments = adjustments or {}
    drafts: list[tuple[Person, list[Part]]] = []
    figures: dict[tuple[str, Role], dict[str, Decimal]] = {}
    for person in sorted(roster.people.values(), key=lambda p: p.id):
        parts = []
        for period, days in segments(person, data.month):
            part, actuals = _part(plan, inputs, index, person, period, set(days))
            parts.append(part)
            mine = figures.setdefault((person.id, period.role), {})
            for name, value in actuals.items():
                mine[name] = mine.get(name, ZERO) + value
        if parts or person.id in adjustments:
            drafts.append((person, parts))
    _with_csv_figures(plan, inputs, figures)
    won = rank_awards(plan, roster, data.month, figures)
    statements = [
        Statement(
            person=person.id,
            name=person.name,
            hired=person.hired,
            left=person.left,
            parts=tuple(parts),
            awards=tuple(won.get(person.id, ())),
            allowances=tuple(inputs.allowances.get(person.id, ())),
            adjustments=tuple(adjustments.get(person.id, ())),
        )
        for person, parts in drafts
    ]
    for st in statements:
        if abs(st.total) >= MONEY_LIMIT:
            message = f"total {st.total} is more than a close can store (Decimal(18, 2))"
            raise PayPlanError(f"statement of {st.person}", [Problem(None, "total", message)])
    return statements


def _with_csv_figures(
    plan: PayPlan, inputs: Inputs, figures: dict[tuple[str, Role], dict[str, Decimal]]
) -> None:
    """An award may rank a csv KPI (最佳话术奖 on a script-quality score): the person's row,
    in every role they held (a month's figure; no row: 0)."""
    names = {name for award in plan.doc.awards for name in (award.by, award.then_by) if name in inputs.kpis}
    for (person, _role), mine in figures.items():
        for name in names:
            row = inputs.kpis[name].get(person)
            mine[name] = row.actual if row is not None else ZERO


def _part(
    plan: PayPlan, inputs: Inputs, index: _Index, person: Person, period: RolePeriod, days: set[date]
) -> tuple[Part, dict[str, Decimal]]:
    """One role's days: (what they pay, the KPI counters they were scored on, for the awards)."""
    pay = plan.doc.roles[period.role]
    scope = period.scope
    key = {Scope.REP: person.id, Scope.TEAM: period.team, Scope.REGION: period.region}[scope]
    act = index.activity(scope, key, days)
    actuals = {name: counter_amount(name, value) for name, value in act.counters.items()}
    lines = []
    for name, weight in pay.weights.items():
        spec = plan.doc.kpis[name]
        lines.append(_kpi_line(plan, inputs, index, person, period, name, spec, weight, act, key, days))
    total_score = score(lines)
    floor_met = total_score >= plan.doc.score_floor and any(line.points is not None for line in lines)
    paid_days, month_pay_days = index.pay_days(days), index.month_pay_days or 1
    paid_score = total_score if pay.performance_may_exceed else min(total_score, Decimal(1))
    performance = cents(pay.performance * paid_score * paid_days / month_pay_days if floor_met else ZERO)
    base_full = period.base if period.base is not None else pay.base
    commission = None
    if (tiers := plan.tiers(period.role)) is not None:
        revenue = actuals.get("revenue", ZERO)
        target = index.target(scope, key, "revenue", days)
        attained = attainment(revenue, target)
        tier = tier_of(tiers, attained)
        kind = "commission" if scope is Scope.REP else "override"
        commission = CommissionLine(
            kind, revenue, target, attained, tier.from_, tier.rate, cents(revenue * tier.rate)
        )
    part = Part(
        role=period.role,
        team=period.team,
        region=period.region or plan.region_of(period.team),
        start=min(days),
        end=max(days),
        pay_days=paid_days,
        month_pay_days=month_pay_days,
        base_full=cents(base_full),
        base=cents(base_full * paid_days / month_pay_days),
        performance_max=cents(pay.performance),
        kpis=tuple(lines),
        score=total_score,
        floor_met=floor_met,
        performance=performance,
        commission=commission,
    )
    return part, actuals


def counter_amount(name: str, value: int) -> Decimal:
    """A KPI counter's integer value as payroll figures it: money (cents) in currency units."""
    return Decimal(value).scaleb(-2) if KPI[name].unit is Unit.MONEY else Decimal(value)


def _kpi_line(
    plan: PayPlan,
    inputs: Inputs,
    index: _Index,
    person: Person,
    period: RolePeriod,
    name: str,
    spec: KpiSpec,
    weight: Decimal,
    act: Activity,
    key: str,
    days: set[date],
) -> KpiLine:
    if spec.source is Source.CALLS:
        actual: Decimal | None = counter_amount(name, act.counters.get(name, 0))
        metric = spec.target_of or name
        target = spec.target if spec.target is not None else index.target(period.scope, key, metric, days)
    elif spec.source is Source.PRICE_CONTROL:
        actual = ratio(Decimal(act.sold_cents) / act.list_cents) if act.list_cents else None
        target = spec.target
    else:
        row = inputs.kpis.get(name, {}).get(person.id)
        if row is None:
            if spec.missing is Missing.ERROR:
                message = (
                    f"no row for {person.id!r}, who is scored on {name} as {period.role.value} "
                    f"(write `{person.id},0` if that is the figure, or set `missing: zero` on the KPI)"
                )
                raise PayPlanError(spec.file or name, [Problem(None, "rep_id", message)])
            return KpiLine(name, ZERO, spec.target, ZERO, weight, ZERO)
        actual, target = row.actual, row.target if row.target is not None else spec.target
    attained = attainment(actual, target)
    return KpiLine(name, actual, target, attained, weight, kpi_points(spec, weight, attained))
