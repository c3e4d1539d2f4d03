"""``callfloor payroll run`` and ``close``: the month's statements from ClickHouse, a plan and inputs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from clickhouse_connect.driver.client import Client

from payroll.close import CannotClose, close_month
from payroll.inputs import Inputs, load_inputs
from payroll.month import NoTargets, pay_run
from payroll.plan import PayPlan, load_plan, parse_plan
from payroll.render import render, render_document, write_files
from payroll.statements import PayRun, kpi_names, warnings
from schemas.settings import Settings
from schemas.yaml_document import YamlFileError
from sinks.clickhouse.payroll_closes import CloseRecord, close_of
from sinks.clickhouse.schema_version import check_schema


def load_plan_and_inputs(
    command: str, settings: Settings, args: argparse.Namespace
) -> tuple[PayPlan, Inputs] | None:
    """The plan (``--plan``, else CALLFLOOR_PAY_PLAN_FILE) and its inputs, or None after
    printing why they cannot be used (exit 2)."""
    plan_path = args.plan or settings.pay_plan_file
    if plan_path is None:
        message = "no pay plan: pass --plan FILE or set CALLFLOOR_PAY_PLAN_FILE"
        print(f"callfloor payroll {command}: {message}", file=sys.stderr)
        return None
    try:
        plan = load_plan(plan_path)
        return plan, load_inputs(plan, args.inputs)
    except YamlFileError as exc:
        print(exc, file=sys.stderr)
        return None


@contextmanager
def payroll_client(settings: Settings) -> Iterator[Client]:
    """A ClickHouse client, once the schema is the one ``callfloor migrate`` applies for this
    version (else ``SchemaNotReady`` says to run it). Payroll applies no DDL: its ClickHouse
    user needs no DDL grant (deploy/clickhouse/users.sql)."""
    with check_schema(settings) as client:
        yield client


def clickhouse_failed(command: str, settings: Settings, exc: Exception) -> int:
    """Tell the clerk what failed, not a traceback (exit 1)."""
    print(f"callfloor payroll {command}: cannot use ClickHouse at {settings.clickhouse_url}: {exc}",
          file=sys.stderr)  # fmt: skip
    return 1


def run_payroll(settings: Settings, args: argparse.Namespace) -> int:
    loaded = load_plan_and_inputs("run", settings, args)
    if loaded is None:
        return 2
    plan, inputs = loaded
    try:
        with payroll_client(settings) as client:
            record = close_of(client, args.month)
            if record is None:
                run = pay_run(client, settings, args.month, plan, inputs)
                files = render(run, args.format, args.lang)
                compared = compare_text(client, run, args.compare) if args.compare else None
            else:
                files, compared = _as_paid(record, args.format, args.lang), None
    except (YamlFileError, NoTargets) as exc:
        print(f"callfloor payroll run: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - ClickHouse away or refusing: say so
        return clickhouse_failed("run", settings, exc)
    if record is None:
        if run.estimate:
            cutoff = run.data.cutoff or "no calls yet"
            print(f"callfloor payroll run: {args.month:%Y-%m} has not ended: every output is marked "
                  f"as an estimate (cut-off {cutoff})", file=sys.stderr)  # fmt: skip
        for warning in warnings(run.statements):
            print(f"callfloor payroll run: WARNING: {warning}", file=sys.stderr)
    if args.out:
        for path in write_files(files, args.out):
            print(f"wrote {path}", file=sys.stderr)
    else:
        for data in files.values():
            sys.stdout.buffer.write(data)
    if compared is not None:
        print(compared, file=sys.stderr if not args.out else sys.stdout)
    return 0


def _as_paid(record: CloseRecord, fmt: str, lang: str) -> dict[str, bytes]:
    """A closed month prints what was paid, whatever arrived since (that is the next run's adjustment)."""
    print(
        f"{record.month:%Y-%m} is closed: these are the statements as paid (plan {record.plan} "
        f"v{record.plan_version}); later changes are adjustments in the next run",
        file=sys.stderr,
    )
    plan = parse_plan(record.plan_text.encode(), f"plan recorded with {record.month:%Y-%m}")
    return render_document(orjson.loads(record.statements), kpi_names(plan), fmt, lang)


def compare_text(client: Client, run: PayRun, previous: Path) -> str:
    from payroll.compare import compare_with_previous

    return compare_with_previous(client, run, previous)


def run_close(settings: Settings, args: argparse.Namespace) -> int:
    from sinks.clickhouse.payroll_claims import CloseRefused

    loaded = load_plan_and_inputs("close", settings, args)
    if loaded is None:
        return 2
    plan, inputs = loaded
    try:
        with payroll_client(settings) as client:
            record = close_month(client, settings, args.month, plan, inputs)
    except (CannotClose, CloseRefused, YamlFileError, NoTargets) as exc:
        print(f"callfloor payroll close: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - ClickHouse away or refusing: say so
        return clickhouse_failed("close", settings, exc)
    cutoff = record.cutoff.isoformat() if record.cutoff else "no calls"
    print(
        f"closed {args.month:%Y-%m}: plan {record.plan} v{record.plan_version}, targets "
        f"{record.targets_version or 'none'}, cut-off {cutoff}"
    )
    return 0
