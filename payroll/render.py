"""A pay run written as csv, json or html: bytes that depend on nothing but the run.

CSV goes through the project's one formula-neutralising writer (``sinks.csv_file``) with a
UTF-8 BOM, so a spreadsheet shows Chinese names and never runs a cell.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson

from payroll.render_html import render_html
from payroll.statements import PayRun, kpi_names, run_document, statement_rows, summary_rows
from sinks.csv_file import write_csv

BOM = "\ufeff"


def csv_text(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    out = io.StringIO()
    out.write(BOM)
    write_csv(out, rows, columns)
    return out.getvalue()


def render(run: PayRun, fmt: str, lang: str = "en") -> dict[str, bytes]:
    """File name -> bytes of one run in one format."""
    return render_document(run_document(run), kpi_names(run.plan), fmt, lang)


def render_document(doc: dict[str, Any], kpis: list[str], fmt: str, lang: str = "en") -> dict[str, bytes]:
    """File name -> bytes of a run document (a fresh run, or a closed month as it was paid)."""
    stem = f"payroll-{doc['month']}"
    if fmt == "json":
        return {f"{stem}.json": orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"}
    if fmt == "csv":
        return {
            f"{stem}.csv": csv_text(statement_rows(doc, kpis)).encode(),
            f"{stem}-summary.csv": csv_text(summary_rows(doc)).encode(),
        }
    return {f"{stem}.{lang}.html": render_html(doc, lang).encode()}


def write_files(files: dict[str, bytes], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        path = out / name
        path.write_bytes(data)
        written.append(path)
    return written
