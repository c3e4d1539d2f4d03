"""The pay plan: a versioned YAML file, validated before a single figure is computed.

A payroll clerk edits it by hand, so a mistake stops the run with
``FILE line N: FIELD: problem`` (the same mechanism as the targets file,
``schemas.yaml_document``). The plan lives here rather than under ``schemas/``
because only payroll reads it: the worker never needs it.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.kpis import COUNTER_NAMES, KPI
from schemas.roster import Role
from schemas.yaml_document import FieldError, YamlFileError, parse_document, read_limited

MAX_BYTES = 1 << 20

# What the Decimal(18, 2) columns a close writes can hold: 16 digits before the point.
MONEY_LIMIT = Decimal(10) ** 16
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
Ratio = Annotated[Decimal, Field(ge=0, le=10, decimal_places=4)]
Id = Annotated[str, Field(min_length=1)]


class Source(StrEnum):
    CALLS = "calls"  # a KPI counter of schemas.kpis, from ClickHouse; target from the targets in force
    PRICE_CONTROL = "price_control"  # Σ sold / Σ list over sales, from ClickHouse; target in the plan
    CSV = "csv"  # a file in --inputs: rep_id,actual[,target]


class Missing(StrEnum):
    """What a person scored on a csv KPI without a row in its file gets."""

    ERROR = "error"  # the run stops, naming the file and the person
    ZERO = "zero"  # attainment 0: the KPI's weight stays and earns no points


class PayDays(StrEnum):
    """计薪天数: the days a month's base and performance pay are prorated over."""

    CALENDAR = "calendar"  # every day of the month
    WORKING = "working_days"  # the plan's working weekdays (Monday to Friday unless set)


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KpiSpec(_Strict):
    """One KPI: where its actual and target come from, its cap and its floor."""

    source: Source
    file: str | None = None  # source csv: the file name inside --inputs
    missing: Missing = Missing.ERROR  # source csv: a person scored on it with no row in the file
    target_of: Id | None = None  # source calls: measured against this metric's target (default: its own)
    target: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)] | None = None
    cap: Ratio = Decimal("1.2")  # attainment counts up to this
    floor: Ratio = Decimal("0")  # attainment under this scores no points

    @model_validator(mode="after")
    def _source_fields(self) -> KpiSpec:
        if self.source is Source.CSV and not self.file:
            raise FieldError(("source",), "a csv KPI needs `file:` (its CSV in --inputs)")
        if self.source is not Source.CSV and self.file:
            raise FieldError(("file",), "`file:` is only for source csv")
        if self.source is Source.PRICE_CONTROL and self.target is None:
            raise FieldError(("source",), "price_control needs `target:` (e.g. 0.95 = sold at 95 % of list)")
        if self.target_of is not None and (self.source is not Source.CALLS or self.target_of not in KPI):
            raise FieldError(("target_of",), "must name a KPI counter, on a calls KPI")
        if self.floor > self.cap:
            raise FieldError(("floor",), f"floor {self.floor} is above cap {self.cap}")
        return self


class RolePay(_Strict):
    base: Money
    performance: Money
    # performance pay is at most `performance` (a score over 1 is not paid) unless this is true
    performance_may_exceed: bool = False
    weights: dict[Id, Ratio]  # KPI name -> weight; weights sum to 1

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> RolePay:
        total = sum(self.weights.values(), Decimal(0))
        if total != 1:
            raise FieldError(("weights",), f"must sum to 1 (they sum to {total})")
        return self


class Tier(_Strict):
    from_: Ratio = Field(alias="from")  # attainment at which this rate starts (inclusive)
    rate: Annotated[Decimal, Field(ge=0, le=1, decimal_places=4)]


class TierTable(_Strict):
    """Rates by revenue attainment (revenue / target), the whole revenue at the reached rate."""

    tiers: list[Tier] = Field(min_length=1)

    @model_validator(mode="after")
    def _ascending(self) -> TierTable:
        starts = [tier.from_ for tier in self.tiers]
        if starts[0] != 0:
            raise FieldError(("tiers", 0, "from"), "the first tier must start at 0")
        if starts != sorted(set(starts)):
            raise FieldError(("tiers",), "tiers must be in strictly ascending `from` order")
        return self


class Commission(TierTable):
    """Rate on a person's own revenue (a lead's or manager's is under ``overrides``)."""

    roles: list[Role] = [Role.REP]


class Ties(StrEnum):
    SHARE = "share"  # tied people share a place and each gets its amount; the next place is skipped
    SPLIT = "split"  # tied people split the amounts of the places they take, equally


class Award(_Strict):
    """Places 1..n by a KPI counter within a group, paid in full to whoever takes them."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    name: Id  # as printed (e.g. 月度销售冠军 Monthly sales champion)
    by: Id = "revenue"  # a KPI counter (counted on the days in `roles`), or a csv KPI of the plan
    then_by: Id | None = None  # a second figure that breaks a tie before `ties` applies
    within: Literal["team", "region", "floor"] = "floor"
    amounts: list[Money] = Field(min_length=1)
    roles: list[Role] = [Role.REP]
    ties: Ties = Ties.SHARE
    hired_within_days: Annotated[int, Field(strict=True, ge=1, le=3660)] | None = None  # new hires only


class RosterSpec(_Strict):
    file: str  # person_id,name,role,from,team,region,hired,left,base (see docs/payroll/rules.md)
    pay_days: PayDays = PayDays.CALENDAR
    working_weekdays: list[Weekday] = list(WEEKDAYS[:5])


class Allowances(_Strict):
    file: str  # rep_id,item,amount (negative = deduction)


class PayPlanFile(_Strict):
    """The YAML document as written; see deploy/payroll.example.yaml and docs/payroll/rules.md."""

    plan: Id
    version: Annotated[int, Field(strict=True, ge=1)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "CNY"
    roster: RosterSpec
    score_floor: Ratio = Decimal("0")  # a score under this earns no performance pay
    kpis: dict[Id, KpiSpec]
    roles: dict[Role, RolePay]
    commission: Commission | None = None
    overrides: dict[Role, TierTable] = {}  # a lead's / manager's rate on the team's / region's revenue
    awards: list[Award] = []
    regions: dict[Id, list[Id]] = {}
    allowances: Allowances | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PayPlanFile:
        for name, spec in self.kpis.items():
            if spec.source is Source.CALLS and name not in KPI:
                known = ", ".join(COUNTER_NAMES)
                raise FieldError(("kpis", name), f"not a KPI counter of the calls (known: {known})")
        for role, pay in self.roles.items():
            for name in pay.weights:
                if name not in self.kpis:
                    raise FieldError(("roles", role.value, "weights", name), "not a KPI under `kpis:`")
        if Role.REP not in self.roles:
            raise FieldError(("roles",), "`rep` is required")
        for role in self.overrides:
            if role is Role.REP:
                raise FieldError(("overrides", role.value), "a rep's rate is `commission:`")
            if self.commission and role in self.commission.roles:
                raise FieldError(("overrides", role.value), "this role is also under commission.roles")
        seen: dict[str, str] = {}
        for region, teams in self.regions.items():
            for team in teams:
                if team in seen:
                    raise FieldError(("regions", region), f"team {team} is also in region {seen[team]}")
                seen[team] = region
        ids: set[str] = set()
        for i, award in enumerate(self.awards):
            if award.id in ids:
                raise FieldError(("awards", i, "id"), f"award id {award.id!r} is used twice")
            ids.add(award.id)
            for key in ("by", "then_by"):
                name = getattr(award, key)
                csv = name in self.kpis and self.kpis[name].source is Source.CSV
                if name is not None and name not in KPI and not csv:
                    known = ", ".join(
                        [*COUNTER_NAMES, *(k for k, s in self.kpis.items() if s.source is Source.CSV)]
                    )
                    raise FieldError(("awards", i, key), f"not a KPI counter or a csv KPI (known: {known})")
            if award.within == "region" and not self.regions:
                raise FieldError(
                    ("awards", i, "within"), "ranks within region but the plan has no `regions:`"
                )
        return self


class PayPlanError(YamlFileError):
    """A pay plan (or an input file) that cannot be used; one ``FILE line N: FIELD: problem`` per line."""


class PayPlan:
    """A loaded, valid plan and the bytes it came from (its hash is recorded with what was paid)."""

    def __init__(self, doc: PayPlanFile, text: str, source: str) -> None:
        self.doc, self.text, self.source = doc, text, source
        self.sha256 = hashlib.sha256(text.encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.doc.plan} v{self.doc.version}"

    def region_of(self, team: str) -> str:
        """The plan's region of a team ("" when it is in none)."""
        return self._regions.get(team, "")

    @property
    def _regions(self) -> dict[str, str]:
        return {team: region for region, teams in self.doc.regions.items() for team in teams}

    def tiers(self, role: Role) -> list[Tier] | None:
        """The commission (or override) tiers a role is paid on; None: no commission."""
        if role in self.doc.overrides:
            return self.doc.overrides[role].tiers
        commission = self.doc.commission
        return commission.tiers if commission and role in commission.roles else None

    @property
    def uses_targets(self) -> bool:
        """Whether some figure needs the targets file (a calls KPI without a plan target, a tier)."""
        scored = {name for pay in self.doc.roles.values() for name in pay.weights}
        calls = any(
            spec.source is Source.CALLS and spec.target is None
            for name, spec in self.doc.kpis.items()
            if name in scored
        )
        return calls or bool(self.doc.commission) or bool(self.doc.overrides)


def load_plan(path: Path) -> PayPlan:
    """Read and validate a plan; raises :class:`PayPlanError` naming file, line and field."""
    return parse_plan(read_limited(path, MAX_BYTES, PayPlanError), str(path))


def parse_plan(data: bytes, source: str) -> PayPlan:
    doc = parse_document(data, source, PayPlanFile, error=PayPlanError, max_bytes=MAX_BYTES, unknown=_unknown)
    return PayPlan(doc, data.decode("utf-8-sig"), source)


def _unknown(name: str, parent: tuple[object, ...]) -> str:
    model = _model_at(parent) or PayPlanFile
    allowed = ", ".join(field.alias or key for key, field in model.model_fields.items())
    return f"unknown key {name!r} (allowed: {allowed})"


def _model_at(parent: tuple[object, ...]) -> type[BaseModel] | None:
    """The model a mapping at ``parent`` is validated by (for the 'allowed' list)."""
    section: dict[tuple[str, int], type[BaseModel]] = {
        ("kpis", 2): KpiSpec,
        ("roles", 2): RolePay,
        ("commission", 1): Commission,
        ("overrides", 2): TierTable,
        ("awards", 2): Award,
        ("roster", 1): RosterSpec,
        ("allowances", 1): Allowances,
    }
    if not parent:
        return PayPlanFile
    if parent[0] == "commission" and len(parent) == 3:
        return Tier
    if parent[0] == "overrides" and len(parent) == 4:
        return Tier
    return section.get((str(parent[0]), len(parent)))
