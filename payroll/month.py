"""One month's pay run: the statements from ClickHouse's exact calls, a plan and its inputs,
with the adjustments owed for earlier closed months. ``callfloor payroll run`` prints it;
``payroll close`` records it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from clickhouse_connect.driver.client import Client

from payroll.adjustments import adjustments_owed
from payroll.compute import compute_month
from payroll.inputs import Inputs
from payroll.plan import PayPlan
from payroll.statements import PayRun
from schemas.settings import Settings
from sinks.clickhouse.payroll_reads import month_end, read_month


def pay_run(
    client: Client,
    settings: Settings,
    month: date,
    plan: PayPlan,
    inputs: Inputs,
    *,
    targets_version: str | None = None,
    with_adjustments: bool = True,
) -> PayRun:
    """Compute one month: the statements, plus adjustments owed for earlier closed months."""
    data = read_month(client, month, settings.zone, targets_version=targets_version)
    if data.targets_version is None and plan.uses_targets:
        raise NoTargets(
            f"no targets version was in force for {month:%Y-%m} (at {month_end(month, settings.zone)}), "
            "and the plan scores against targets (calls KPIs without `target:`, commission tiers): "
            "every target would be missing. Load the targets file (a worker records it when it starts "
            "with CALLFLOOR_TARGETS_FILE, see deploy/TARGETS.md) and run again"
        )
    owed = adjustments_owed(client, settings, month) if with_adjustments else {}
    estimate = datetime.now(UTC) <= month_end(month, settings.zone)
    return PayRun(plan, data, inputs, compute_month(plan, data, inputs, owed), estimate)


class NoTargets(Exception):
    """Targets are configured but none were in force: every target would silently be null."""
