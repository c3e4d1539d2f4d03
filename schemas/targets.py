"""The targets file: daily and monthly targets per rep and per team (see deploy/TARGETS.md).

Supervisors edit this YAML by hand while the floor is running, so a mistake must
be refused with the exact line and field, never half-applied. Parsing and
line-numbered errors are ``schemas.yaml_document``'s, shared with the pay plan.
The result is an immutable :class:`TargetSet` that the worker, the /metrics
exporter and the ClickHouse history all read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import ErrorDetails

from schemas.yaml_document import YamlFileError, parse_document, read_limited

Value = Decimal | int
Key = tuple[str, str]  # (period, metric)
Row = tuple[str, str, str, str, str, Value]  # (scope, id, team_id, period, metric, value)

# Largest count accepted: keeps every value (minutes * 60 included) inside Decimal(18, 2).
MAX_COUNT = 10**12
MAX_BYTES = 1 << 20  # a targets file is hand-written; anything bigger is a mistake

# File metric name -> (period, exported metric name). Talk targets are written in
# minutes because that is how a floor talks about them; everything downstream uses seconds.
DAILY_METRICS: dict[str, Key] = {
    "dials": ("day", "dials"),
    "connects": ("day", "connects"),
    "valid_connects": ("day", "valid_connects"),
    "talk_minutes": ("day", "talk_seconds"),
}
MONTHLY_METRICS: dict[str, Key] = {
    "sales": ("month", "sales"),
    "revenue": ("month", "revenue"),
    "new_customers": ("month", "new_customers"),
}
METRIC_KEYS: tuple[Key, ...] = (*DAILY_METRICS.values(), *MONTHLY_METRICS.values())

Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
Id = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DailyTargets(_Strict):
    dials: Count | None = None
    connects: Count | None = None
    valid_connects: Count | None = None
    talk_minutes: Count | None = None


class MonthlyTargets(_Strict):
    sales: Count | None = None
    revenue: Money | None = None
    new_customers: Count | None = None


class TargetBlock(_Strict):
    daily: DailyTargets | None = None
    monthly: MonthlyTargets | None = None

    def values(self) -> dict[Key, Value]:
        """The metrics set in this block, keyed (period, metric), minutes turned into seconds."""
        out: dict[Key, Value] = {}
        for section, names in ((self.daily, DAILY_METRICS), (self.monthly, MONTHLY_METRICS)):
            for name, key in names.items():
                value = getattr(section, name) if section is not None else None
                if value is None:
                    continue
                if name == "talk_minutes":
                    value *= 60
                elif isinstance(value, Decimal):
                    value = value.quantize(Decimal("0.01"))
                out[key] = value
        return out


class RepEntry(TargetBlock):
    team: Id


class TargetsFile(_Strict):
    """The YAML document as written; see deploy/targets.example.yaml."""

    version: Literal[1]
    effective_from: date | None = None
    defaults: TargetBlock = TargetBlock()
    teams: dict[Id, TargetBlock] = {}
    reps: dict[Id, RepEntry] = {}


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class RepTarget:
    team: str
    values: Mapping[Key, Value]


@dataclass(frozen=True)
class TeamTarget:
    values: Mapping[Key, Value]
    explicit: frozenset[Key]  # set in `teams:`; every other key is the sum of the team's reps


_EMPTY: Mapping[Key, Value] = MappingProxyType({})


@dataclass(frozen=True)
class TargetSet:
    """One loaded, valid targets file. Immutable: a reload builds a new one."""

    source: str
    sha256: str
    effective_from: date | None
    reps: Mapping[str, RepTarget]
    teams: Mapping[str, TeamTarget]

    def rep(self, rep_id: str) -> Mapping[Key, Value]:
        """{(period, metric): target}; {} for a rep the file does not give a target."""
        entry = self.reps.get(rep_id)
        return entry.values if entry is not None else _EMPTY

    def team(self, team_id: str) -> Mapping[Key, Value]:
        entry = self.teams.get(team_id)
        return entry.values if entry is not None else _EMPTY

    def team_of(self, rep_id: str) -> str | None:
        entry = self.reps.get(rep_id)
        return entry.team if entry is not None else None

    def rows(self) -> list[Row]:
        """Every target flattened, in a stable order, for the ClickHouse history."""
        out: list[Row] = []
        for rep_id in sorted(self.reps):
            rep = self.reps[rep_id]
            out += [("rep", rep_id, rep.team, *key, rep.values[key]) for key in _ordered(rep.values)]
        for team_id in sorted(self.teams):
            team = self.teams[team_id]
            out += [("team", team_id, team_id, *key, team.values[key]) for key in _ordered(team.values)]
        return out


def _ordered(values: Mapping[Key, Value]) -> list[Key]:
    return [key for key in METRIC_KEYS if key in values]


def build(doc: TargetsFile, source: str, sha256: str) -> TargetSet:
    """Apply the defaults to each rep, then sum reps into teams where a team value is not set."""
    defaults = doc.defaults.values()
    reps = {
        rep_id: RepTarget(entry.team, MappingProxyType(defaults | entry.values()))
        for rep_id, entry in doc.reps.items()
    }
    sums: dict[str, dict[Key, Value]] = {team_id: {} for team_id in doc.teams}
    for rep in reps.values():
        team_sum = sums.setdefault(rep.team, {})
        for key, value in rep.values.items():
            team_sum[key] = team_sum.get(key, 0) + value
    teams = {}
    for team_id, summed in sums.items():
        explicit = doc.teams[team_id].values() if team_id in doc.teams else {}
        teams[team_id] = TeamTarget(MappingProxyType(summed | explicit), frozenset(explicit))
    return TargetSet(source, sha256, doc.effective_from, MappingProxyType(reps), MappingProxyType(teams))


# --------------------------------------------------------------------------- loading


class TargetsError(YamlFileError):
    """A targets file that cannot be used; ``str()`` names the file, line and field.

    For example ``targets.yaml line 12: reps.rep-002.daily.dials: must be >= 0 (got -5)``;
    several problems give one such line each. ``line`` and ``field`` are the first one's.
    """


def load_targets(path: Path) -> TargetSet:
    """Read and validate ``path``; raises :class:`TargetsError` for anything unusable."""
    return parse_targets(read_limited(path, MAX_BYTES, TargetsError), str(path))


def parse_targets(data: bytes, source: str) -> TargetSet:
    """Validate the bytes of a targets file; ``source`` names it in error messages."""
    doc = parse_document(data, source, TargetsFile, error=TargetsError, max_bytes=MAX_BYTES,
                         unknown=_unknown, messages=_version_message)  # fmt: skip
    return build(doc, source, hashlib.sha256(data).hexdigest())


def _version_message(error: ErrorDetails) -> str | None:
    if error["loc"] == ("version",) and error["type"] == "missing":
        return "required (this reader understands version 1)"
    return None


def _unknown(name: str, parent: tuple[object, ...]) -> str:
    """Say what is allowed where the unknown key stands (by position: a rep may be called "daily")."""
    block_depth = 1 if parent[:1] == ("defaults",) else 2  # defaults.daily vs reps.<id>.daily
    section = parent[block_depth] if len(parent) == block_depth + 1 else None
    if section == "daily":
        return f"unknown daily metric {name!r} (known: {', '.join(DAILY_METRICS)})"
    if section == "monthly":
        return f"unknown monthly metric {name!r} (known: {', '.join(MONTHLY_METRICS)})"
    if len(parent) == 2 and parent[0] == "reps":
        allowed = "team, daily, monthly"
    elif parent == ("defaults",) or (len(parent) == 2 and parent[0] == "teams"):
        allowed = "daily, monthly"
    else:
        allowed = ", ".join(TargetsFile.model_fields)
    return f"unknown key {name!r} (allowed: {allowed})"
