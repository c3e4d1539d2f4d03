"""``callfloor payroll run|explain|close``: the command line and what it prints.

deploy/cli.py registers these sub-commands here; each body reads its arguments, calls
payroll's domain functions (``payroll.run``, ``payroll.explain``: plain arguments in, values
out), prints what they return and turns their refusals into exit codes (2: the clerk's input
or the month's state; 1: ClickHouse failed). Bodies import lazily, so registering the
command imports nothing heavy: every ``callfloor`` command builds this parser.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from schemas.settings import Settings

if TYPE_CHECKING:
    from payroll.inputs import Inputs
    from payroll.plan import PayPlan

# Output formats of ``payroll run`` (payroll.render writes each); kept here so registering the
# command imports nothing heavy: every ``callfloor`` command builds this parser.
FORMATS = ("csv", "json", "html")
INPUTS_HELP = "folder of the roster and the CSV inputs the plan names (default: CALLFLOOR_PAYROLL_INPUTS_DIR)"


def parse_month(text: str) -> date:
    """``YYYY-MM`` -> its first day (an argparse type)."""
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return date(int(year), int(month), 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {text!r}") from None


def add_payroll_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], settings_loader: Callable[[], Settings]
) -> None:
    """Register ``payroll`` and its sub-commands on the CLI's sub-parsers."""
    payroll = sub.add_parser("payroll", help="month-end pay statements, explanations and closing")
    commands = payroll.add_subparsers(dest="payroll_command", required=True)

    p = commands.add_parser("run", help="one statement per person for a month")
    p.add_argument("--month", type=parse_month, required=True, metavar="YYYY-MM")
    p.add_argument("--plan", type=Path, help="pay plan YAML (default: CALLFLOOR_PAY_PLAN_FILE)")
    p.add_argument("--inputs", type=Path, help=INPUTS_HELP)
    p.add_argument("--format", choices=FORMATS, default="json")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the HTML statements")
    p.add_argument("--out", type=Path, help="write files here instead of printing")
    p.add_argument("--compare", type=Path, metavar="PREVIOUS", help="JSON of an earlier run of this month")
    p.set_defaults(func=lambda args: run_command(settings_loader(), args))

    p = commands.add_parser("explain", help="the calls behind a rep's figures, version by version")
    p.add_argument("--month", type=parse_month, required=True, metavar="YYYY-MM")
    p.add_argument("--rep", required=True)
    p.add_argument("--kpi", help="only the calls behind this KPI counter")
    p.add_argument("--format", choices=("text", "csv", "json"), default="text")
    p.set_defaults(func=lambda args: explain_command(settings_loader(), args))

    p = commands.add_parser("close", help="record what is paid for a month (never changed afterwards)")
    p.add_argument("--month", type=parse_month, required=True, metavar="YYYY-MM")
    p.add_argument("--plan", type=Path, help="pay plan YAML (default: CALLFLOOR_PAY_PLAN_FILE)")
    p.add_argument("--inputs", type=Path, help=INPUTS_HELP)
    p.set_defaults(func=lambda args: close_command(settings_loader(), args))


def _say(command: str, message: object) -> None:
    print(f"callfloor payroll {command}: {message}", file=sys.stderr)


def _clickhouse_failed(command: str, settings: Settings, exc: Exception, doing: str = "use") -> int:
    """Tell the clerk what failed, not a traceback (exit 1)."""
    _say(command, f"cannot {doing} ClickHouse at {settings.clickhouse_url}: {exc}")
    return 1


def _plan_and_inputs(
    command: str, settings: Settings, args: argparse.Namespace
) -> tuple[PayPlan, Inputs] | None:
    """The plan (``--plan``, else CALLFLOOR_PAY_PLAN_FILE) and its inputs (``--inputs``, else
    CALLFLOOR_PAYROLL_INPUTS_DIR, the folder the wallboard reads the roster from), or None
    after printing why they cannot be used (exit 2)."""
    from payroll.run import load_plan_and_inputs
    from schemas.yaml_document import YamlFileError

    plan_path = args.plan or settings.pay_plan_file
    if plan_path is None:
        _say(command, "no pay plan: pass --plan FILE or set CALLFLOOR_PAY_PLAN_FILE")
        return None
    try:
        return load_plan_and_inputs(plan_path, args.inputs or settings.payroll_inputs_dir)
    except YamlFileError as exc:
        print(exc, file=sys.stderr)
        return None


def run_command(settings: Settings, args: argparse.Namespace) -> int:
    from payroll.month import NoTargets
    from payroll.render import write_files
    from payroll.run import month_statements
    from payroll.statements import warnings
    from schemas.yaml_document import YamlFileError

    loaded = _plan_and_inputs("run", settings, args)
    if loaded is None:
        return 2
    try:
        made = month_statements(settings, args.month, *loaded, fmt=args.format, lang=args.lang,
                                compare=args.compare)  # fmt: skip
    except (YamlFileError, NoTargets) as exc:
        _say("run", exc)
        return 2
    except Exception as exc:  # noqa: BLE001 - ClickHouse away or refusing: say so
        return _clickhouse_failed("run", settings, exc)
    if made.closed is not None:
        record = made.closed
        print(f"{record.month:%Y-%m} is closed: these are the statements as paid (plan {record.plan} "
              f"v{record.plan_version}); later changes are adjustments in the next run",
              file=sys.stderr)  # fmt: skip
    if made.run is not None:
        if made.run.estimate:
            cutoff = made.run.data.cutoff or "no calls yet"
            _say("run", f"{args.month:%Y-%m} has not ended: every output is marked as an estimate "
                        f"(cut-off {cutoff})")  # fmt: skip
        for warning in warnings(made.run.statements):
            _say("run", f"WARNING: {warning}")
    if args.out:
        for path in write_files(made.files, args.out):
            print(f"wrote {path}", file=sys.stderr)
    else:
        for data in made.files.values():
            sys.stdout.buffer.write(data)
    if made.compared is not None:
        print(made.compared, file=sys.stderr if not args.out else sys.stdout)
    return 0


def explain_command(settings: Settings, args: argparse.Namespace) -> int:
    from payroll.explain import explain, render_explanation
    from schemas.kpis import KPI

    if args.kpi is not None and args.kpi not in KPI:
        _say("explain", f"unknown --kpi {args.kpi!r} (known: {', '.join(KPI)})")
        return 2
    try:
        rows, sums = explain(settings, args.month, args.rep, args.kpi)
    except Exception as exc:  # noqa: BLE001 - tell the clerk what failed, not a traceback
        return _clickhouse_failed("explain", settings, exc, doing="read")
    sys.stdout.buffer.write(render_explanation(rows, sums, args.rep, args.month, args.kpi, args.format))
    return 0


def close_command(settings: Settings, args: argparse.Namespace) -> int:
    from payroll.close import CannotClose
    from payroll.month import NoTargets
    from payroll.run import close
    from schemas.yaml_document import YamlFileError
    from sinks.clickhouse.payroll_claims import CloseRefused

    loaded = _plan_and_inputs("close", settings, args)
    if loaded is None:
        return 2
    try:
        record = close(settings, args.month, *loaded)
    except (CannotClose, CloseRefused, YamlFileError, NoTargets) as exc:
        _say("close", exc)
        return 2
    except Exception as exc:  # noqa: BLE001 - ClickHouse away or refusing: say so
        return _clickhouse_failed("close", settings, exc)
    cutoff = record.cutoff.isoformat() if record.cutoff else "no calls"
    print(
        f"closed {args.month:%Y-%m}: plan {record.plan} v{record.plan_version}, targets "
        f"{record.targets_version or 'none'}, cut-off {cutoff}"
    )
    return 0
