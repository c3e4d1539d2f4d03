"""A month's statements as files (``payroll run``) and closing a month (``payroll close``).

Plain arguments in, values out: ``payroll/cli.py`` reads the command line, calls these and
prints what they return, so a test or another program gets the files and the facts beside
them without parsing stderr.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson
from clickhouse_connect.driver.client import Client

from payroll.close import close_month
from payroll.inputs import Inputs, load_inputs
from payroll.month import pay_run
from payroll.plan import PayPlan, load_plan, parse_plan
from payroll.render import render, render_document
from payroll.statements import PayRun, kpi_names
from schemas.settings import Settings
from sinks.clickhouse.payroll_closes import CloseRecord, close_of
from sinks.clickhouse.schema_version import check_schema


def load_plan_and_inputs(plan_path: Path, inputs_dir: Path | None) -> tuple[PayPlan, Inputs]:
    """The plan and the inputs it names (from ``inputs_dir``); ``YamlFileError`` names the file,
    line and field of a mistake."""
    plan = load_plan(plan_path)
    return plan, load_inputs(plan, inputs_dir)


@contextmanager
def payroll_client(settings: Settings) -> Iterator[Client]:
    """A ClickHouse client, once the schema is the one ``callfloor migrate`` applies for this
    version (else ``SchemaNotReady`` says to run it). Payroll applies no DDL: its ClickHouse
    user needs no DDL grant (deploy/clickhouse/users.sql)."""
    with check_schema(settings) as client:
        yield client


@dataclass(frozen=True)
class Statements:
    """A month's statements as files, with what the clerk must be told beside them: either
    ``run`` (a fresh run: an estimate while the month lasts, its warnings) or ``closed`` (the
    month is closed and the files are what was paid)."""

    files: dict[str, bytes]  # file name -> bytes
    run: PayRun | None = None
    closed: CloseRecord | None = None
    compared: str | None = None  # whose pay changed since ``compare``'s run, and why


def month_statements(
    settings: Settings,
    month: date,
    plan: PayPlan,
    inputs: Inputs,
    *,
    fmt: str,
    lang: str = "en",
    compare: Path | None = None,
) -> Statements:
    """The statements of ``month`` in ``fmt`` (``payroll.render``): computed now from
    ClickHouse's exact calls, or, for a closed month, as paid (whatever arrived since is the
    next run's adjustment). Raises ``NoTargets`` when the plan needs targets and none were in
    force; a ClickHouse failure propagates."""
    with payroll_client(settings) as client:
        record = close_of(client, month)
        if record is not None:
            return Statements(as_paid(record, fmt, lang), closed=record)
        run = pay_run(client, settings, month, plan, inputs)
        compared = compare_text(client, run, compare) if compare is not None else None
    return Statements(render(run, fmt, lang), run=run, compared=compared)


def as_paid(record: CloseRecord, fmt: str, lang: str) -> dict[str, bytes]:
    """A closed month's statements as paid, under the plan recorded with it."""
    plan = parse_plan(record.plan_text.encode(), f"plan recorded with {record.month:%Y-%m}")
    return render_document(orjson.loads(record.statements), kpi_names(plan), fmt, lang)


def compare_text(client: Client, run: PayRun, previous: Path) -> str:
    from payroll.compare import compare_with_previous

    return compare_with_previous(client, run, previous)


def close(settings: Settings, month: date, plan: PayPlan, inputs: Inputs) -> CloseRecord:
    """Close ``month`` (``payroll.close.close_month``): what it records, or its refusal raised."""
    with payroll_client(settings) as client:
        return close_month(client, settings, month, plan, inputs)
