"""CSV inputs the plan names: the roster, KPIs the CDR stream cannot know, allowances/deductions.

Validated like the plan: a bad cell stops the run with ``FILE line N: FIELD: problem``.
Every file's SHA-256 goes on the statements and into the close record, so a run can be
reproduced and a paid month audited.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from payroll.csv_rows import Row, cell, fail, money, number, required, rows
from payroll.plan import PayPlan, PayPlanError, Source
from payroll.roster import parse_roster
from schemas.roster import Roster
from schemas.yaml_document import Problem

MAX_BYTES = 16 << 20
KPI_COLUMNS = ("rep_id", "actual", "target")
ALLOWANCE_COLUMNS = ("rep_id", "item", "amount")


@dataclass(frozen=True)
class KpiInput:
    actual: Decimal
    target: Decimal | None


@dataclass(frozen=True)
class Allowance:
    item: str
    amount: Decimal  # negative: a deduction


@dataclass
class Inputs:
    """What the --inputs directory gave: the roster, per KPI per person, allowances, file hashes."""

    roster: Roster = field(default_factory=lambda: Roster("no roster", {}))
    kpis: dict[str, dict[str, KpiInput]] = field(default_factory=dict)
    allowances: dict[str, list[Allowance]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    texts: dict[str, str] = field(default_factory=dict)  # file name -> content (for the close record)


def load_inputs(plan: PayPlan, directory: Path | None) -> Inputs:
    """Every file the plan names (the roster first), read from ``directory``."""
    if directory is None:
        message = (f"the plan names the roster {plan.doc.roster.file}: pass --inputs DIR holding it "
                   "or set CALLFLOOR_PAYROLL_INPUTS_DIR")  # fmt: skip
        raise PayPlanError(plan.source, [Problem(None, "roster.file", message)])
    texts = {name: read_input(directory / name) for name in _named_files(plan)}
    return parse_inputs(plan, texts, directory)


def read_input(path: Path) -> str:
    """One input file's text, or PayPlanError naming it: unreadable, too large, not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problem = Problem(None, None, f"cannot read file: {exc.strerror or exc}")
        raise PayPlanError(str(path), [problem]) from exc
    if len(data) > MAX_BYTES:
        raise PayPlanError(str(path), [Problem(None, None, f"file is larger than {MAX_BYTES} bytes")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PayPlanError(str(path), [Problem(line, None, "not UTF-8 text")]) from exc


def load_roster(plan: PayPlan, directory: Path) -> Roster:
    """Only the roster the plan names, from ``directory``: what the wallboard's awards panel
    needs mid-month, when the month's csv KPIs and allowances are not written yet."""
    path = directory / plan.doc.roster.file
    return parse_roster(plan, str(path), read_input(path))


def parse_inputs(plan: PayPlan, texts: dict[str, str], directory: Path | None = None) -> Inputs:
    """Validate input files given as text (also how a closed month's recorded inputs are replayed)."""
    inputs = Inputs(texts=dict(sorted(texts.items())))
    for name, text in inputs.texts.items():
        inputs.files[name] = hashlib.sha256(text.encode()).hexdigest()
    where = (lambda name: str(directory / name)) if directory else (lambda name: name)
    for name in _named_files(plan):
        if name not in texts:
            raise fail(where(name), None, None, "the plan names this file but it was not given")
    roster_file = plan.doc.roster.file
    inputs.roster = roster = parse_roster(plan, where(roster_file), texts[roster_file])
    for kpi, spec in plan.doc.kpis.items():
        if spec.source is Source.CSV and spec.file:
            inputs.kpis[kpi] = _kpi_rows(roster, where(spec.file), texts[spec.file])
    if plan.doc.allowances:
        name = plan.doc.allowances.file
        inputs.allowances = _allowance_rows(roster, where(name), texts[name])
    return inputs


def _named_files(plan: PayPlan) -> list[str]:
    names = [spec.file for spec in plan.doc.kpis.values() if spec.source is Source.CSV and spec.file]
    names.append(plan.doc.roster.file)
    if plan.doc.allowances:
        names.append(plan.doc.allowances.file)
    return sorted(set(names))


def _person(roster: Roster, source: str, line: int, row: Row) -> str:
    """The row's rep_id, which must be someone on the roster (a typo is never a payee)."""
    rep = required(source, line, row, "rep_id")
    if rep not in roster:
        raise fail(source, line, "rep_id", f"{rep!r} is not on the roster ({roster.source})")
    return rep


def _kpi_rows(roster: Roster, source: str, text: str) -> dict[str, KpiInput]:
    out: dict[str, KpiInput] = {}
    first: dict[str, int] = {}
    for line, row in rows(source, text, KPI_COLUMNS[:2], KPI_COLUMNS[2:]):
        rep = _person(roster, source, line, row)
        if rep in first:
            raise fail(source, line, "rep_id", f"duplicate rep_id {rep!r} (first at line {first[rep]})")
        first[rep] = line
        target = cell(row, "target")
        out[rep] = KpiInput(
            number(source, line, "actual", row["actual"]),
            number(source, line, "target", target) if target else None,
        )
    return out


def _allowance_rows(roster: Roster, source: str, text: str) -> dict[str, list[Allowance]]:
    out: dict[str, list[Allowance]] = {}
    for line, row in rows(source, text, ALLOWANCE_COLUMNS):
        rep = _person(roster, source, line, row)
        amount = money(source, line, "amount", row["amount"], signed=True)
        out.setdefault(rep, []).append(Allowance(cell(row, "item"), amount))
    return out
