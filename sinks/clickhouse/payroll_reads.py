"""What payroll reads from ClickHouse: a month's winning call versions, the targets in force,
and every version of the calls behind a figure.

Month figures come from ``calls FINAL`` (each call once, at its winning version) limited to
the month's business days; explanations come from ``call_versions``, which keeps the
versions ``calls`` merges away.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from schemas.kpis import KPI_COUNTERS
from schemas.pay_month import Activity, MonthData
from sinks.clickhouse.ddl import EXACT_CALLS, PRICE_SUMS, kpi_sum
from sinks.clickhouse.payroll_ddl import VERSION_COLUMNS, VERSIONS
from sinks.clickhouse.targets import version_in_force, version_rows

_SUMS = ", ".join(kpi_sum(c) for c in KPI_COUNTERS)


def month_bounds(month: date) -> tuple[date, date]:
    """First and last business day of the month ``month`` falls in."""
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def month_end(month: date, zone: ZoneInfo) -> datetime:
    """The month's last instant in the business zone: when its targets in force are read."""
    _, last = month_bounds(month)
    return datetime.combine(last + timedelta(days=1), time(), zone) - timedelta(milliseconds=1)


def read_month(
    client: Client, month: date, zone: ZoneInfo, *, targets_version: str | None = None
) -> MonthData:
    """The month's activity per (rep, team on the call, business day), and the targets in force
    at its last instant (or the recorded ``targets_version`` when replaying a closed month)."""
    first, last = month_bounds(month)
    result = client.query(
        f"SELECT rep_id, team_id, business_day, max(ingested_at) AS cutoff, {_SUMS}, {PRICE_SUMS}"
        f" FROM {EXACT_CALLS} AND business_day BETWEEN {{first:Date}} AND {{last:Date}}"
        " GROUP BY rep_id, team_id, business_day",
        parameters={"first": first, "last": last},
    )
    days: dict[tuple[str, str, date], Activity] = {}
    cutoff: datetime | None = None
    rows = result.result_rows  # tuples, not dicts: ~31 a rep
    at = {name: i for i, name in enumerate(result.column_names)} if rows else {}
    sums = [(c.name, at[c.sum_alias]) for c in KPI_COUNTERS] if rows else []
    rep, team, day, newest, listed, sold = (
        at.get(k, 0) for k in ("rep_id", "team_id", "business_day", "cutoff", "list_cents", "sold_cents")
    )
    for row in rows:
        days[(row[rep], row[team], row[day])] = Activity(
            {name: int(row[i]) for name, i in sums}, int(row[listed] or 0), int(row[sold] or 0)
        )
        cutoff = row[newest] if cutoff is None else max(cutoff, row[newest])
    if targets_version is None:
        version = version_in_force(client, month_end(month, zone), zone=zone)
        targets_version = version.sha256 if version else None
    targets = tuple(version_rows(client, targets_version)) if targets_version else ()
    return MonthData(
        month=first, cutoff=_iso(cutoff), days=days, targets_version=targets_version, targets=targets
    )


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def call_versions(
    client: Client,
    month: date,
    people: Iterable[str],
    *,
    teams: Iterable[str] = (),
    after: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every version of every call that had a version for ``people`` (or ``teams``) in the month.

    One row per distinct (call_id, rank), oldest arrival first within a call, with ``counted``
    True for the winning version (the one ``calls FINAL`` keeps). ``after``: only calls with a
    version that arrived after that instant (what changed after a close).
    """
    first, last = month_bounds(month)
    columns = ", ".join(
        f"any({c}) AS {c}" for c in VERSION_COLUMNS if c not in ("call_id", "rank", "ingested_at")
    )
    late = " AND call_id IN (SELECT call_id FROM {v} WHERE ingested_at > {{after:DateTime64(3, 'UTC')}})"
    result = client.query(
        f"SELECT call_id, rank, {columns}, min(ingested_at) AS ingested_at,"
        f" rank = max(rank) OVER (PARTITION BY call_id) AS counted"
        f" FROM {VERSIONS} WHERE call_id IN (SELECT call_id FROM {VERSIONS}"
        " WHERE business_day BETWEEN {first:Date} AND {last:Date}"
        " AND (rep_id IN {people:Array(String)} OR team_id IN {teams:Array(String)}))"
        + (late.format(v=VERSIONS) if after is not None else "")
        + " GROUP BY call_id, rank ORDER BY dialed_at, call_id, rank",
        parameters={
            "first": first,
            "last": last,
            "people": sorted(people),
            "teams": sorted(teams),
            "after": after,
        },
    )
    return list(result.named_results())
