"""CSV inputs the plan names: KPIs the CDR stream cannot know, and allowances/deductions.

Validated like the plan: a bad cell stops the run with ``FILE line N: FIELD: problem``.
Every file's SHA-256 goes on the statements and into the close record, so a run can be
reproduced and a paid month audited.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from payroll.plan import PayPlan, PayPlanError, Source
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
    """What the --inputs directory gave: per KPI per person, allowances per person, file hashes."""

    kpis: dict[str, dict[str, KpiInput]] = field(default_factory=dict)
    allowances: dict[str, list[Allowance]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    texts: dict[str, str] = field(default_factory=dict)  # file name -> content (for the close record)

    def people(self) -> set[str]:
        return {p for rows in self.kpis.values() for p in rows} | set(self.allowances)


def load_inputs(plan: PayPlan, directory: Path | None) -> Inputs:
    """Every file the plan names, read from ``directory``; none at all without a directory."""
    if directory is None:
        return Inputs()
    texts = {}
    for name in _named_files(plan):
        path = directory / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PayPlanError(
                str(path), [Problem(None, None, f"cannot read file: {exc.strerror or exc}")]
            ) from exc
        if len(data) > MAX_BYTES:
            raise PayPlanError(str(path), [Problem(None, None, f"file is larger than {MAX_BYTES} bytes")])
        try:
            texts[name] = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise PayPlanError(str(path), [Problem(line, None, "not UTF-8 text")]) from exc
    return parse_inputs(plan, texts, directory)


def parse_inputs(plan: PayPlan, texts: dict[str, str], directory: Path | None = None) -> Inputs:
    """Validate input files given as text (also how a closed month's recorded inputs are replayed)."""
    inputs = Inputs(texts=dict(sorted(texts.items())))
    for name, text in inputs.texts.items():
        inputs.files[name] = hashlib.sha256(text.encode()).hexdigest()
    where = (lambda name: str(directory / name)) if directory else (lambda name: name)
    for kpi, spec in plan.doc.kpis.items():
        if spec.source is Source.CSV and spec.file in texts:
            inputs.kpis[kpi] = _kpi_rows(where(spec.file), texts[spec.file])
    if plan.doc.allowances and plan.doc.allowances.file in texts:
        name = plan.doc.allowances.file
        inputs.allowances = _allowance_rows(where(name), texts[name])
    return inputs


def _named_files(plan: PayPlan) -> list[str]:
    names = [spec.file for spec in plan.doc.kpis.values() if spec.source is Source.CSV and spec.file]
    if plan.doc.allowances:
        names.append(plan.doc.allowances.file)
    return sorted(set(names))


def _rows(source: str, text: str, required: tuple[str, ...], optional: tuple[str, ...] = ()):
    """(line number, row dict) of a CSV whose header must hold ``required`` and may hold ``optional``."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in required if c not in header]
    extra = [c for c in header if c not in required + optional]
    if missing or extra:
        problem = f"missing column {missing[0]!r}" if missing else f"unknown column {extra[0]!r}"
        allowed = ", ".join(required + optional)
        raise PayPlanError(source, [Problem(1, None, f"{problem} (columns: {allowed})")])
    for row in reader:
        if None in row:
            raise PayPlanError(source, [Problem(reader.line_num, None, "more cells than columns")])
        yield reader.line_num, row


def _decimal(source: str, line: int, column: str, text: str | None, *, signed: bool = False) -> Decimal:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or (not signed and value < 0):
        kind = "an amount like 300.00" if signed else "a number >= 0"
        raise PayPlanError(source, [Problem(line, column, f"must be {kind} (got {text!r})")])
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise PayPlanError(source, [Problem(line, column, f"at most 4 decimal places (got {text!r})")])
    return value


def _person(source: str, line: int, row: dict[str, str | None]) -> str:
    rep = (row.get("rep_id") or "").strip()
    if not rep:
        raise PayPlanError(source, [Problem(line, "rep_id", "must not be empty")])
    return rep


def _kpi_rows(source: str, text: str) -> dict[str, KpiInput]:
    out: dict[str, KpiInput] = {}
    first: dict[str, int] = {}
    for line, row in _rows(source, text, KPI_COLUMNS[:2], KPI_COLUMNS[2:]):
        rep = _person(source, line, row)
        if rep in first:
            message = f"duplicate rep_id {rep!r} (first at line {first[rep]})"
            raise PayPlanError(source, [Problem(line, "rep_id", message)])
        first[rep] = line
        target = row.get("target")
        out[rep] = KpiInput(
            _decimal(source, line, "actual", row["actual"]),
            None if target is None or not target.strip() else _decimal(source, line, "target", target),
        )
    return out


def _allowance_rows(source: str, text: str) -> dict[str, list[Allowance]]:
    out: dict[str, list[Allowance]] = {}
    for line, row in _rows(source, text, ALLOWANCE_COLUMNS):
        rep = _person(source, line, row)
        amount = _decimal(source, line, "amount", row["amount"], signed=True)
        if amount != amount.quantize(Decimal("0.01")):
            raise PayPlanError(
                source, [Problem(line, "amount", f"at most 2 decimal places (got {row['amount']!r})")]
            )
        out.setdefault(rep, []).append(Allowance((row["item"] or "").strip(), amount))
    return out
