"""Closed months in ClickHouse: what was paid, and with what (tables in payroll_ddl.py).

A close is written once and never updated: ``payroll_closes`` keeps the plan text, the
input files, the targets version, the data cut-off and the statements as paid;
``payroll_paid`` one amount per person per month paid for (its own month, or an earlier
closed month it adjusts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks.clickhouse.payroll_ddl import CLOSES, PAID, VERSIONS

_CLOSE_COLUMNS = (
    "month",
    "plan",
    "plan_version",
    "plan_sha256",
    "plan_text",
    "targets_version",
    "cutoff",
    "inputs",
    "statements",
)


@dataclass(frozen=True)
class CloseRecord:
    month: date
    plan: str
    plan_version: int
    plan_sha256: str
    plan_text: str
    targets_version: str
    cutoff: datetime | None  # None: the month had no calls when it was closed
    inputs: str  # JSON: file name -> text
    statements: str  # JSON: the run document as paid


def closes(client: Client, before: date | None = None) -> list[CloseRecord]:
    """Every closed month (before ``before`` if given), oldest first."""
    where = " WHERE month < {before:Date}" if before else ""
    found = client.query(
        f"SELECT {', '.join(_CLOSE_COLUMNS)} FROM {CLOSES}{where} ORDER BY month, closed_at LIMIT 1 BY month",
        parameters={"before": before},
    ).result_rows
    return [CloseRecord(*(*row[:6], _cutoff(row[6]), *row[7:])) for row in found]


def close_of(client: Client, month: date) -> CloseRecord | None:
    found = [record for record in closes(client) if record.month == month]
    return found[0] if found else None


def record_close(client: Client, record: CloseRecord, paid: list[tuple[date, str, Decimal]]) -> None:
    """Store a close: the amounts first, then the close row that makes them count."""
    if paid:
        client.insert(
            PAID,
            [(record.month, *row) for row in paid],
            column_names=("month", "for_month", "person", "amount"),
        )
    cutoff = record.cutoff or datetime(1970, 1, 1, tzinfo=UTC)
    row = (
        record.month,
        record.plan,
        record.plan_version,
        record.plan_sha256,
        record.plan_text,
        record.targets_version,
        cutoff,
        record.inputs,
        record.statements,
    )
    client.insert(CLOSES, [row], column_names=_CLOSE_COLUMNS)


def paid_for(client: Client, for_month: date) -> dict[str, Decimal]:
    """person -> everything paid for one month so far (its own pay plus later adjustments)."""
    found = client.query(
        f"SELECT person, sum(amount) FROM {PAID} WHERE for_month = {{m:Date}}"
        f" AND month IN (SELECT month FROM {CLOSES}) GROUP BY person",
        parameters={"m": for_month},
    ).result_rows
    return {person: Decimal(amount) for person, amount in found}


def late_versions(
    client: Client, first: date, last: date, cutoff: datetime | None
) -> Sequence[Sequence[Any]]:
    """Versions that arrived after ``cutoff`` of calls that have any version in the month:
    (call_id, version, rep_id, team_id, business_day, ingested_at), in arrival order."""
    after = cutoff or datetime(1970, 1, 1, tzinfo=UTC)
    return client.query(
        f"SELECT call_id, version, rep_id, team_id, business_day, min(ingested_at) AS arrived"
        f" FROM {VERSIONS} WHERE ingested_at > {{after:DateTime64(3, 'UTC')}}"
        f" AND call_id IN (SELECT call_id FROM {VERSIONS} WHERE business_day BETWEEN {{first:Date}}"
        " AND {last:Date}) GROUP BY call_id, version, rep_id, team_id, business_day"
        " ORDER BY arrived, call_id, version",
        parameters={"after": after, "first": first, "last": last},
    ).result_rows


def _cutoff(moment: datetime) -> datetime | None:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return None if moment.year == 1970 else moment


def newest_arrival(client: Client) -> datetime | None:
    """The newest version's arrival: a close counts everything up to here, and only that."""
    found = client.query(f"SELECT max(ingested_at), count() FROM {VERSIONS}").result_rows
    moment, count = found[0]
    return _cutoff(moment) if count else None
