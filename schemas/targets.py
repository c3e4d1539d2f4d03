"""The targets file: daily and monthly targets per rep and per team (see deploy/TARGETS.md).

Supervisors edit this YAML by hand while the floor is running, so a mistake must
be refused with the exact line and field, never half-applied. Parsing therefore
goes YAML text -> composed node tree (which keeps line marks) -> plain data ->
pydantic model; a pydantic error location is walked back through the node tree
to the line it came from. The result is an immutable :class:`TargetSet` that the
worker, the /metrics exporter and the ClickHouse history all read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

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


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    line: int | None
    field: str | None
    message: str


class TargetsError(ValueError):
    """A targets file that cannot be used; ``str()`` names the file, line and field.

    For example ``targets.yaml line 12: reps.rep-002.daily.dials: must be >= 0 (got -5)``;
    several problems give one such line each. ``line`` and ``field`` are the first one's.
    """

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        first = self.problems[0]
        self.line, self.field = first.line, first.field
        super().__init__("\n".join(self._format(p) for p in self.problems))

    def _format(self, problem: Problem) -> str:
        where = self.source if problem.line is None else f"{self.source} line {problem.line}"
        field = f"{problem.field}: " if problem.field else ""
        return f"{where}: {field}{problem.message}"


# --------------------------------------------------------------------------- loading


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mapping keys are always their text as written.

    ``1001:`` is rep "1001" and ``no:`` is the key "no", not False: ids are text
    in CDRs, so they are text here too.
    """

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[str, object]:
        self.flatten_mapping(node)  # YAML merge keys (<<: *base); later explicit keys win
        return {k.value: self.construct_object(v, deep=deep) for k, v in node.value}


def load_targets(path: Path) -> TargetSet:
    """Read and validate ``path``; raises :class:`TargetsError` for anything unusable."""
    source = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise TargetsError(source, [Problem(None, None, f"cannot read file: {exc.strerror or exc}")]) from exc
    return parse_targets(data, source)


def parse_targets(data: bytes, source: str) -> TargetSet:
    """Validate the bytes of a targets file; ``source`` names it in error messages."""
    if len(data) > MAX_BYTES:
        raise TargetsError(source, [Problem(None, None, f"file is larger than {MAX_BYTES} bytes")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TargetsError(source, [Problem(line, None, "not UTF-8 text")]) from exc
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                raise TargetsError(source, [Problem(1, None, "file is empty")])
            _check_keys(source, root, ())
            raw = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise TargetsError(source, [_yaml_problem(exc)]) from exc
    except yaml.YAMLError as exc:
        raise TargetsError(source, [Problem(None, None, f"invalid YAML: {exc}")]) from exc
    try:
        doc = TargetsFile.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(root, error) for error in exc.errors()]
        raise TargetsError(source, sorted(problems, key=lambda p: p.line or 0)) from exc
    return build(doc, source, hashlib.sha256(data).hexdigest())


def _yaml_problem(exc: yaml.MarkedYAMLError) -> Problem:
    """Where the parser stopped, and where the construct it was in began (an unclosed bracket)."""
    mark = exc.problem_mark or exc.context_mark
    message = f"invalid YAML: {exc.problem or 'cannot parse'}"
    if exc.context and exc.context_mark is not None:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return Problem(mark.line + 1 if mark is not None else None, None, message)


def _check_keys(source: str, node: Node, path: tuple[str, ...], seen: set[int] | None = None) -> None:
    """Refuse duplicate and non-text keys, which PyYAML would otherwise silently accept."""
    seen = set() if seen is None else seen
    if id(node) in seen:  # an alias met again
        return
    seen.add(id(node))
    if isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _check_keys(source, item, (*path, str(i)), seen)
    if not isinstance(node, MappingNode):
        return
    first_line: dict[str, int] = {}
    for key, value in node.value:
        line = key.start_mark.line + 1
        if key.tag == "tag:yaml.org,2002:merge":
            _check_keys(source, value, path, seen)
            continue
        if not isinstance(key, ScalarNode):
            raise TargetsError(source, [Problem(line, _dotted(path), "a key must be plain text")])
        if key.value in first_line:
            message = f"duplicate key {key.value!r} (first at line {first_line[key.value]})"
            raise TargetsError(source, [Problem(line, _dotted((*path, key.value)), message)])
        first_line[key.value] = line
        _check_keys(source, value, (*path, key.value), seen)


def _dotted(path: Iterable[object]) -> str | None:
    return ".".join(str(part) for part in path) or None


def _line(root: Node, loc: tuple[object, ...]) -> int:
    """The 1-based line of the field a pydantic error location points at.

    Walks the location as far as it exists in the file and answers the line of
    the last key found: the field itself, or for a missing field the mapping
    that lacks it. Keys are where a reader looks, even for a block value below.
    """
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if not isinstance(node, MappingNode):
            break
        matches = [(k, v) for k, v in node.value if isinstance(k, ScalarNode) and k.value == str(part)]
        if not matches:
            break
        key, node = matches[-1]  # the last one wins, as in construct_mapping (merge keys first)
        line = key.start_mark.line + 1
    return line


def _problem(root: Node, error: dict) -> Problem:
    loc = tuple(part for part in error["loc"] if part != "[key]")
    unknown = error["type"] == "extra_forbidden"
    message = _unknown(str(loc[-1]), loc[:-1]) if unknown else _message(error)
    return Problem(_line(root, loc), _dotted(loc), message)


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


def _got(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _message(error: dict) -> str:
    """A short, supervisor-readable sentence for one pydantic error."""
    kind, ctx, got = error["type"], error.get("ctx") or {}, _got(error.get("input"))
    version = " (this reader understands version 1)" if error["loc"] == ("version",) else ""
    messages = {
        "missing": f"required{version}",
        "greater_than_equal": f"must be >= {ctx.get('ge')} (got {got})",
        "less_than_equal": f"must be <= {ctx.get('le')} (got {got})",
        "int_type": f"must be a whole number (got {got})",
        "string_type": f"must be text (got {got})",
        "string_too_short": "must not be empty",
        "decimal_type": f'must be an amount like "50000.00" (got {got})',
        "decimal_parsing": f'must be an amount like "50000.00" (got {got})',
        "finite_number": f"must be a finite amount (got {got})",
        "decimal_max_places": f"at most {ctx.get('decimal_places')} decimal places (got {got})",
        "decimal_max_digits": f"too many digits (got {got})",
        "decimal_whole_digits": f"too many digits (got {got})",
        "literal_error": f"must be {ctx.get('expected')} (got {got})",
        "model_type": f"must be a mapping of keys to values (got {got})",
        "model_attributes_type": f"must be a mapping of keys to values (got {got})",
        "dict_type": f"must be a mapping of keys to values (got {got})",
    }
    if kind.startswith("date_"):
        return f"must be a date like 2026-11-01 (got {got})"
    return messages.get(kind, f"{error['msg']} (got {got})")
