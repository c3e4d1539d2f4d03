"""Closing a month: what was paid never changes.

``close`` records the plan text, the input files, the targets version, the arrival cut-off
and every person's pay, once (a claim makes it exclusive). What a closed month owes when its
calls change later is ``payroll.adjustments``.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import orjson
from clickhouse_connect.driver.client import Client

from payroll.inputs import Inputs
from payroll.month import pay_run
from payroll.plan import PayPlan
from payroll.statements import run_document
from schemas.settings import Settings
from sinks.clickhouse.payroll_claims import check_claim, claim_month
from sinks.clickhouse.payroll_closes import (
    CloseRecord,
    close_of,
    newest_arrival,
    record_close,
)

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
