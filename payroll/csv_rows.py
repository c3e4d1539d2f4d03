"""Reading the clerk's CSV files (roster, KPI inputs, allowances) cell by cell.

Every bad cell stops the run with ``FILE line N: COLUMN: problem``; one reader for all of
them, so a header, an empty id or an amount too big to be paid is refused the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal, InvalidOperation

from payroll.plan import MONEY_LIMIT, PayPlanError
from schemas.yaml_document import Problem

Row = dict[str, str | None]


def fail(source: str, line: int | None, column: str | None, message: str) -> PayPlanError:
    return PayPlanError(source, [Problem(line, column, message)])


def rows(
    source: str, text: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[int, Row]]:
    """(line number, row) of a CSV whose header must hold ``required`` and may hold ``optional``."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in required if c not in header]
    extra = [c for c in header if c not in required + optional]
    if missing or extra:
        problem = f"missing column {missing[0]!r}" if missing else f"unknown column {extra[0]!r}"
        raise fail(source, 1, None, f"{problem} (columns: {', '.join(required + optional)})")
    for row in reader:
        if None in row:
            raise fail(source, reader.line_num, None, "more cells than columns")
        yield reader.line_num, row


def cell(row: Row, column: str) -> str:
    return (row.get(column) or "").strip()


def required(source: str, line: int, row: Row, column: str) -> str:
    value = cell(row, column)
    if not value:
        raise fail(source, line, column, "must not be empty")
    return value


def number(source: str, line: int, column: str, text: str | None, *, signed: bool = False) -> Decimal:
    """A number of at most 4 places (>= 0 unless ``signed``), bounded by what a close can store."""
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or (not signed and value < 0):
        kind = "an amount like 300.00" if signed else "a number >= 0"
        raise fail(source, line, column, f"must be {kind} (got {text!r})")
    if abs(value) >= MONEY_LIMIT:
        raise fail(source, line, column, f"must be under {MONEY_LIMIT:,.0f} in size (got {text!r})")
    if value.as_tuple().exponent < -4:  # type: ignore[operator]  # finite, so an int exponent
        raise fail(source, line, column, f"at most 4 decimal places (got {text!r})")
    return value


def money(source: str, line: int, column: str, text: str | None, *, signed: bool = False) -> Decimal:
    value = number(source, line, column, text, signed=signed)
    if value != value.quantize(Decimal("0.01")):
        raise fail(source, line, column, f"at most 2 decimal places (got {text!r})")
    return value


def day(source: str, line: int, column: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(source, line, column, f"must be a date like 2026-10-01 (got {text!r})") from None
