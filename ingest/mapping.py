"""The ``--mapping FILE``: where rep, team, campaign and AMD come from, and the status tables.

A mapping is YAML, validated by pydantic; a mistake stops the import with the file, the
line and the field (``mapping.yaml:7: rep.0.pattern: ...``), never a traceback. Each of
``rep``, ``team``, ``campaign``, ``amd``, ``outcome`` and ``sale_amount`` is a list of rules tried in
order; the first that yields a non-empty value wins. A rule reads a record field (for
FreeSWITCH, a channel variable), optionally through a regular expression (its group named
like the target, else its first group, else the whole match), or is a constant ``value``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping as MappingType
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ingest.clock import TimeFormat
from schemas.cdr import Amd, Direction, Disposition, Outcome


class MappingError(ValueError):
    """A mapping or lookup file that cannot be used; the message names file, line and field."""


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str | None = Field(None, min_length=1)
    pattern: re.Pattern[str] | None = None
    value: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> Rule:
        if (self.field is None) == (self.value is None):
            raise ValueError("a rule takes either 'field' (optionally with 'pattern') or 'value'")
        if self.pattern is not None and self.field is None:
            raise ValueError("'pattern' needs a 'field' to match")
        return self

    def describe(self) -> str:
        """How a reject names this rule: ``accountcode``, ``channel ~ '^SIP/(\\d+)-'``, ``value 'x'``."""
        if self.value is not None:
            return f"value {self.value!r}"
        return f"{self.field} ~ '{self.pattern.pattern}'" if self.pattern is not None else str(self.field)

    def extract(self, fields: MappingType[str, str], target: str) -> str | None:
        if self.value is not None:
            return self.value
        text = fields.get(self.field or "")
        if not text:
            return None
        if self.pattern is None:
            return text
        match = self.pattern.search(text)
        if match is None:
            return None
        groups = match.groupdict()
        found = groups.get(target) or (match.group(1) if match.re.groups else match.group(0))
        return found or None


def _as_rules(value: Any) -> Any:
    """``rep: accountcode`` and ``rep: {field: ...}`` are one-rule lists; a bare name is a field."""
    if isinstance(value, str | dict):
        value = [value]
    if isinstance(value, list):
        return [{"field": item} if isinstance(item, str) else item for item in value]
    return value


class Lookup(BaseModel):
    """A CSV with a header: rep -> team (and campaign, when the column is there)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Path
    rep_column: str = "rep_id"
    team_column: str = "team_id"
    campaign_column: str = "campaign_id"


class StatusRule(BaseModel):
    """What a dialer status means in CDR v1 terms."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    disposition: Disposition
    amd: Amd | None = None
    outcome: Outcome | None = None


class IngestMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: list[str] | None = Field(None, description="Asterisk cdr_custom column order")
    rep: list[Rule] | None = None
    team: list[Rule] | None = None
    campaign: list[Rule] | None = None
    amd: list[Rule] | None = None
    outcome: list[Rule] | None = None
    sale_amount: list[Rule] | None = None
    lookup: Lookup | None = None
    direction: Direction = "outbound"
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$")
    timezone: str | None = None
    amd_values: dict[str, Amd | None] = Field(default_factory=dict)
    statuses: dict[str, StatusRule | Literal["not_final"]] = Field(default_factory=dict)
    hangup_causes: dict[str, Disposition] = Field(default_factory=dict)
    clock_check: bool = Field(True, description="stop when uniqueids say the times are in another zone")
    talk_includes_hold: bool = Field(
        True, description="talk_seconds is billsec with hold (true) or billsec minus hold_accum_seconds"
    )
    # live feeds (docs/integrate/live-feeds.md): a pushed record's own field names, as the format's names
    fields: dict[str, str] = Field(default_factory=dict, description="format's field name -> record's")
    time_formats: dict[str, TimeFormat] = Field(
        default_factory=dict,
        description="a time field (format's name) -> text, epoch_s, epoch_ms, epoch_us, auto",
    )

    @field_validator("rep", "team", "campaign", "amd", "outcome", "sale_amount", mode="before")
    @classmethod
    def _rule_shorthands(cls, value: Any) -> Any:
        return _as_rules(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("columns")
    @classmethod
    def _needs_uniqueid(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not {"uniqueid", "linkedid"} & set(value):
            raise ValueError("columns must include uniqueid or linkedid: call ids are derived from them")
        return value


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or of its nearest ancestor)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def load_mapping(path: Path) -> IngestMapping:
    """Read and validate a mapping file; raise :class:`MappingError` naming file, line and field."""
    try:
        text = path.read_text(encoding="utf-8-sig")
        document = yaml.safe_load(text)
        root = yaml.compose(text)
    except OSError as exc:
        raise MappingError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise MappingError(f"{where}: not YAML: {getattr(exc, 'problem', exc)}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise MappingError(f"{path}:1: expected a mapping of settings, got {type(document).__name__}")
    try:
        mapping = IngestMapping.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            field = ".".join(str(p) for p in loc) or "(top)"
            problems.append(f"{path}:{_line_of(root, loc)}: {field}: {error['msg']}")
        raise MappingError("\n".join(problems)) from None
    if mapping.lookup is not None and not mapping.lookup.file.is_absolute():
        lookup = mapping.lookup.model_copy(update={"file": path.parent / mapping.lookup.file})
        mapping = mapping.model_copy(update={"lookup": lookup})
    return mapping


def load_lookup(lookup: Lookup) -> dict[str, tuple[str, str | None]]:
    """rep -> (team, campaign or None); a bad row stops with file, line and column."""
    try:
        handle = open(lookup.file, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as exc:
        raise MappingError(f"{lookup.file}: cannot read lookup: {exc.strerror}") from None
    table: dict[str, tuple[str, str | None]] = {}
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        for column in (lookup.rep_column, lookup.team_column):
            if column not in header:
                raise MappingError(f"{lookup.file}:1: no column {column!r} (header: {', '.join(header)})")
        for row in reader:
            rep = (row.get(lookup.rep_column) or "").strip()
            team = (row.get(lookup.team_column) or "").strip()
            if not rep or not team:
                missing = lookup.rep_column if not rep else lookup.team_column
                raise MappingError(f"{lookup.file}:{reader.line_num}: {missing}: empty")
            if rep in table and table[rep][0] != team:
                raise MappingError(f"{lookup.file}:{reader.line_num}: {lookup.rep_column}: "
                                   f"{rep!r} is listed twice with different teams")  # fmt: skip
            table[rep] = (team, (row.get(lookup.campaign_column) or "").strip() or None)
    return table
