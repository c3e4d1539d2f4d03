"""Bodies of ``callfloor payroll run|explain|close`` (the parser lives in deploy/cli.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path

from schemas.settings import Settings

# Output formats of ``payroll run`` (payroll.render writes each); kept here so registering the
# command imports nothing heavy: every ``callfloor`` command builds this parser.
FORMATS = ("csv", "json", "html")


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
    p.add_argument("--inputs", type=Path, help="directory of the roster and the CSV inputs the plan names")
    p.add_argument("--format", choices=FORMATS, default="json")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the HTML statements")
    p.add_argument("--out", type=Path, help="write files here instead of printing")
    p.add_argument("--compare", type=Path, metavar="PREVIOUS", help="JSON of an earlier run of this month")
    p.set_defaults(func=lambda args: _run("run", settings_loader(), args))

    p = commands.add_parser("explain", help="the calls behind a rep's figures, version by version")
    p.add_argument("--month", type=parse_month, required=True, metavar="YYYY-MM")
    p.add_argument("--rep", required=True)
    p.add_argument("--kpi", help="only the calls behind this KPI counter")
    p.add_argument("--format", choices=("text", "csv", "json"), default="text")
    p.set_defaults(func=lambda args: _run("explain", settings_loader(), args))

    p = commands.add_parser("close", help="record what is paid for a month (never changed afterwards)")
    p.add_argument("--month", type=parse_month, required=True, metavar="YYYY-MM")
    p.add_argument("--plan", type=Path, help="pay plan YAML (default: CALLFLOOR_PAY_PLAN_FILE)")
    p.add_argument("--inputs", type=Path, help="directory of the roster and the CSV inputs the plan names")
    p.set_defaults(func=lambda args: _run("close", settings_loader(), args))


def _run(command: str, settings: Settings, args: argparse.Namespace) -> int:
    if command == "run":
        from payroll.run import run_payroll

        return run_payroll(settings, args)
    if command == "explain":
        from payroll.explain import run_explain

        return run_explain(settings, args)
    from payroll.run import run_close

    return run_close(settings, args)
