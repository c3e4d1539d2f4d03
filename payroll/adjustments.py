"""What a closed month owes when its calls change later: adjustments, with the calls behind them.

What was paid never changes (``payroll.close``). A CDR or correction arriving after a closed
month's cut-off is paid as an adjustment in a later run: the closed month is recomputed exactly
as it was paid (same plan text, inputs and targets version) over the calls as they are now, and
the difference to what was paid so far, per person, is owed, naming the calls that arrived
after the cut-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from payroll.compute import ZERO, AdjustmentLine, Statement, compute_month
from payroll.inputs import parse_inputs
from payroll.plan import parse_plan
from schemas.roster import Scope
from schemas.settings import Settings
from sinks.clickhouse.payroll_closes import CloseRecord, closes, late_versions, paid_for
from sinks.clickhouse.payroll_reads import month_bounds, read_month

MAX_CALLS_NAMED = 10


def recompute_closed(client: Client, settings: Settings, record: CloseRecord) -> list[Statement]:
    """The closed month as it would be paid now: same plan, inputs and targets, today's calls."""
    plan = parse_plan(record.plan_text.encode(), f"plan recorded with {record.month:%Y-%m}")
    inputs = parse_inputs(plan, orjson.loads(record.inputs))
    data = read_month(client, record.month, settings.zone, targets_version=record.targets_version or None)
    return compute_month(plan, data, inputs)


def adjustments_owed(client: Client, settings: Settings, month: date) -> dict[str, list[AdjustmentLine]]:
    """person -> adjustments for every earlier closed month whose calls changed after its close."""
    owed: dict[str, list[AdjustmentLine]] = {}
    for record in closes(client, before=month):
        first, last = month_bounds(record.month)
        late = late_versions(client, first, last, record.cutoff)
        if not late:
            continue
        now = {st.person: st for st in recompute_closed(client, settings, record)}
        paid = paid_for(client, record.month)
        for person in sorted(set(now) | set(paid)):
            st = now.get(person)
            delta = (st.total if st else ZERO) - paid.get(person, ZERO)
            if delta:
                reason = _reason(st, person, late, record)
                owed.setdefault(person, []).append(AdjustmentLine(f"{record.month:%Y-%m}", delta, reason))
    return owed


def _reason(st: Statement | None, person: str, late: Sequence[Sequence[Any]], record: CloseRecord) -> str:
    """The calls behind an adjustment: those of the person (or of the team/region they lead)."""
    teams = _teams_led(st, record)
    calls = sorted(
        {
            f"{call_id} v{version}"
            for call_id, version, rep, team, *_ in late
            if rep == person or team in teams
        }
    )
    named = ", ".join(calls[:MAX_CALLS_NAMED]) + (
        f" and {len(calls) - MAX_CALLS_NAMED} more" if len(calls) > MAX_CALLS_NAMED else ""
    )
    cutoff = record.cutoff.isoformat(timespec="milliseconds") if record.cutoff else "the close"
    return f"{len(calls)} call version(s) arrived after {cutoff}: {named or 'ranking/targets shift'}"


def _teams_led(st: Statement | None, record: CloseRecord) -> set[str]:
    """The teams whose calls a person was scored on as a lead or manager during the month."""
    if st is None:
        return set()
    regions = parse_plan(record.plan_text.encode(), "recorded plan").doc.regions
    teams: set[str] = set()
    for part in st.parts:
        if part.scope is Scope.TEAM:
            teams.add(part.team)
        elif part.scope is Scope.REGION:
            teams |= set(regions.get(part.region, []))
    return teams
