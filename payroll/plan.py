"""The pay plan: a versioned YAML file, validated before a single figure is computed.

A payroll clerk edits it by hand, so a mistake stops the run with
``FILE line N: FIELD: problem`` (the same mechanism as the targets file,
``schemas.yaml_document``). The plan lives here rather than under ``schemas/``
because only payroll reads it: the worker never needs it.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from schemas.kpis import COUNTER_NAMES, KPI
from schemas.yaml_document import FieldError, YamlFileError, parse_document, read_limited

MAX_BYTES = 1 << 20

Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
SignedMoney = Annotated[Decimal, Field(max_digits=18, decimal_places=2)]
Ratio = Annotated[Decimal, Field(ge=0, le=10, decimal_places=4)]
Id = Annotated[str, Field(min_length=1)]


class Source(StrEnum):
    CALLS = "calls"  # a KPI counter of schemas.kpis, from ClickHouse; target from the targets in force
    PRICE_CONTROL = "price_control"  # Σ sold / Σ list over sales, from ClickHouse; target in the plan
    CSV = "csv"  # a file in --inputs: rep_id,actual[,target]


class Role(StrEnum):
    REP = "rep"
    TEAM_LEAD = "team_lead"
    REGIONAL_MANAGER = "regional_manager"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KpiSpec(_Strict):
    """One KPI: where its actual and target come from, its cap and its floor."""

    source: Source
    file: str | None = None  # source csv: the file name inside --inputs
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
        if self.floor > self.cap:
            raise FieldError(("floor",), f"floor {self.floor} is above cap {self.cap}")
        return self


class RolePay(_Strict):
    base: Money
    performance: Money
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


class Commission(_Strict):
    """Rate on the whole month's revenue, chosen by revenue attainment (revenue / target)."""

    tiers: list[Tier] = Field(min_length=1)
    roles: list[Role] = [Role.REP]

    @model_validator(mode="after")
    def _ascending(self) -> Commission:
        starts = [tier.from_ for tier in self.tiers]
        if starts[0] != 0:
            raise FieldError(("tiers", 0, "from"), "the first tier must start at 0")
        if starts != sorted(set(starts)):
            raise FieldError(("tiers",), "tiers must be in strictly ascending `from` order")
        return self


class RankingBonus(_Strict):
    """Places 1..n by a KPI's actual within a group; ties share a place (1, 1, 3)."""

    by: Id = "revenue"  # a KPI counter of schemas.kpis
    within: Literal["team", "region", "floor"] = "team"
    amounts: list[Money] = Field(min_length=1)
    roles: list[Role] = [Role.REP]

    @model_validator(mode="after")
    def _known_counter(self) -> RankingBonus:
        if self.by not in KPI:
            raise FieldError(("by",), f"unknown KPI counter {self.by!r} (known: {', '.join(COUNTER_NAMES)})")
        return self


class PersonPeriod(_Strict):
    """A person's role from a business day on (the first period may omit ``from``)."""

    from_: date | None = Field(None, alias="from")
    role: Role = Role.REP
    team: Id | None = None  # the team a team lead leads
    region: Id | None = None  # the region a regional manager manages
    name: str | None = None

    @model_validator(mode="after")
    def _scope(self) -> PersonPeriod:
        if self.role is Role.TEAM_LEAD and not self.team:
            raise FieldError(("role",), "a team_lead needs `team:`")
        if self.role is Role.REGIONAL_MANAGER and not self.region:
            raise FieldError(("role",), "a regional_manager needs `region:`")
        return self


class Allowances(_Strict):
    file: str  # rep_id,item,amount (negative = deduction)


def _as_list(value: object) -> object:
    """A person written as one mapping is one period (so ``people.X.0.role`` names its field)."""
    return [value] if isinstance(value, dict) else value


class PayPlanFile(_Strict):
    """The YAML document as written; see deploy/payroll.example.yaml and README "Payroll"."""

    plan: Id
    version: Annotated[int, Field(strict=True, ge=1)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "CNY"
    score_floor: Ratio = Decimal("0")  # a score under this earns no performance pay
    kpis: dict[Id, KpiSpec]
    roles: dict[Role, RolePay]
    commission: Commission | None = None
    ranking_bonus: RankingBonus | None = None
    regions: dict[Id, list[Id]] = {}
    people: dict[Id, Annotated[list[PersonPeriod], BeforeValidator(_as_list)]] = {}
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
            raise FieldError(("roles",), "`rep` is required (everyone not under people is a rep)")
        for person, periods in self.people.items():
            for i, period in enumerate(periods):
                if period.role not in self.roles:
                    raise FieldError(
                        ("people", person, i, "role"), f"role {period.role.value} has no entry under roles"
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

    def periods(self, person: str) -> list[PersonPeriod]:
        return self.doc.people.get(person) or [PersonPeriod()]

    def period_on(self, person: str, day: date) -> PersonPeriod:
        """The role in force on ``day``: the latest period starting on or before it."""
        chosen = None
        for period in sorted(self.periods(person), key=lambda p: p.from_ or date.min):
            if (period.from_ or date.min) <= day:
                chosen = period
        return chosen or PersonPeriod()

    def region_of(self, team: str) -> str | None:
        return next((region for region, teams in self.doc.regions.items() if team in teams), None)


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
    section = {
        ("kpis", 2): KpiSpec,
        ("roles", 2): RolePay,
        ("commission", 1): Commission,
        ("ranking_bonus", 1): RankingBonus,
        ("people", 2): PersonPeriod,
        ("people", 3): PersonPeriod,
        ("allowances", 1): Allowances,
    }
    if not parent:
        return PayPlanFile
    if parent[0] == "commission" and len(parent) == 3:
        return Tier
    return section.get((str(parent[0]), len(parent)))
