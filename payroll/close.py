"""Closing a month, and the adjustments a closed month owes when its calls change later.

What was paid never changes: ``close`` records the plan text, the input files, the targets
version, the arrival cut-off and every person's pay. A CDR or correction arriving after
the cut-off for a closed month is paid as an adjustment in a later run: the closed month is
recomputed exactly as it was paid (same plan text, inputs and targets version) over the
calls as they are now, and the difference to what was paid so far, per person, is owed,
with the calls that arrived after the cut-off.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from decimal import Decimal

import orjson
from clickhouse_connect.driver.client import Client

from payroll.compute import ZERO, AdjustmentLine, Statement, compute_month
from payroll.inputs import Inputs, parse_inputs
from payroll.plan import PayPlan, parse_plan
from payroll.statements import run_document
from schemas.roster import Scope
from schemas.settings import Settings
from sinks.clickhouse.payroll_claims import check_claim, claim_month
from sinks.clickhouse.payroll_closes import (
    CloseRecord,
    close_of,
    closes,
    late_versions,
    newest_arrival,
    paid_for,
    record_close,
)
from sinks.clickhouse.payroll_reads import month_bounds, read_month

MAX_CALLS_NAMED = 10


class CannotClose(Exception):
    """A close refused (already closed, or a month that has not ended)."""


class AlreadyClosed(CannotClose):
    pass


def close_month(
    client: Client, settings: Settings, month: date, plan: PayPlan, inputs: Inputs
) -> CloseRecord:
    """Record what is paid for ``month`` (its statements, with the adjustments they carry).
    Exclusive: a close of a month another close holds raises ``CloseRefused``
    (sinks/clickhouse/payroll_claims.py); of a closed month, :class:`AlreadyClosed`."""
    from payroll.run import pay_run

    if close_of(client, month) is not None:
        raise AlreadyClosed(f"{month:%Y-%m} is already closed; later changes are paid as adjustments")
    claimant = uuid.uuid4().hex
    claim_month(client, month, claimant)  # CloseRefused while another close of it runs
    if close_of(client, month) is not None:  # one that finished between the check and the claim
        raise AlreadyClosed(f"{month:%Y-%m} is already closed; later changes are paid as adjustments")
    cutoff = newest_arrival(client)
    run = pay_run(client, settings, month, plan, inputs)
    if run.estimate:
        raise CannotClose(f"{month:%Y-%m} has not ended: its statements are estimates, not pay")
    paid: list[tuple[date, str, Decimal]] = []
    for st in run.statements:
        paid.append((month, st.person, st.total - st.adjustments_total))
        paid += [(date.fromisoformat(a.month + "-01"), st.person, a.amount) for a in st.adjustments]
    record = CloseRecord(
        month=month,
        plan=plan.doc.plan,
        plan_version=plan.doc.version,
        plan_sha256=plan.sha256,
        plan_text=plan.text,
        targets_version=run.data.targets_version or "",
        cutoff=cutoff,
        inputs=orjson.dumps(inputs.texts, option=orjson.OPT_SORT_KEYS).decode(),
        statements=orjson.dumps(run_document(run)).decode(),
    )
    check_claim(client, month, claimant)  # still the one close of the month: write
    record_close(client, record, paid)
    return record


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


def _reason(st: Statement | None, person: str, late: list[tuple], record: CloseRecord) -> str:
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


def paid_statements(record: CloseRecord) -> Mapping[str, object]:
    """The run document as it was paid."""
    return orjson.loads(record.statements)
