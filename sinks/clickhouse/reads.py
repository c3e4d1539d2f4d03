"""Exact reads of what landed: the report payroll trusts, and the live-state seed.

Every read goes through ``EXACT_CALLS`` (see ddl.py), so a call counts once at its winning
version no matter how many copies were inserted, and names the days it needs, so only those
month partitions are read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from clickhouse_connect.driver.client import Client

from schemas.kpis import KPI, KPI_COUNTERS, MONTHLY_COUNTERS, Counters
from sinks.clickhouse.ddl import CORRECTED_TABLE, EXACT_CALLS, PARTITIONS_TABLE, kpi_sum

GroupBy = Literal["rep", "team", "campaign"]
# partition_calls' home partition for a winner dated before the seed window: never a real one
BEFORE_SINCE = -1

_SUMS = ", ".join(kpi_sum(counter) for counter in KPI_COUNTERS)

_KEYS: dict[GroupBy, tuple[str, str]] = {
    # (key column, extra columns)
    "rep": ("rep_id", "argMax(team_id, dialed_at) AS team_id, "),
    "team": ("team_id", ""),
    "campaign": ("campaign_id", ""),
}


def report_rows(client: Client, first: date, last: date, by: GroupBy) -> list[dict[str, object]]:
    """One row per (business_day, key), ordered, with the contract's column names."""
    key, extra = _KEYS[by]
    result = client.query(
        f"SELECT business_day, {key}, {extra}{_SUMS} FROM {EXACT_CALLS}"
        " AND business_day BETWEEN {first:Date} AND {last:Date}"
        f" GROUP BY business_day, {key} ORDER BY business_day, {key}",
        parameters={"first": first, "last": last},
    )
    rows = []
    for record in result.named_results():
        row: dict[str, object] = {"business_day": record["business_day"].isoformat()}
        row[key] = record[key]
        if "team_id" in record and key != "team_id":
            row["team_id"] = record["team_id"]
        for counter in KPI_COUNTERS:
            row[counter.name] = counter.reported(int(record[counter.sum_alias]))
        rows.append(row)
    return rows


def partition_calls(client: Client, partition: int, since: date) -> Iterator[Sequence[Any]]:
    """The winning version of every call that has any copy on one Kafka partition since a day.

    Rows: call_id, rank, rep_id, team_id, business_day, kafka_partition of the winner,
    then the counters. A call whose winner moved to another partition (a correction that
    changed its rep) is still returned, so its old copies are known here as superseded; so
    is one whose winner a correction moved before ``since``, with partition ``BEFORE_SINCE``
    and no counts. Both reads touch the month partitions from ``since`` on, not all history.
    """
    copies_here = (
        f"SELECT call_id FROM {PARTITIONS_TABLE}"
        " WHERE kafka_partition = {partition:UInt32} AND business_day >= {since:Date}"
    )
    parameters = {"partition": partition, "since": since}
    result = client.query(
        "SELECT call_id, rank, rep_id, team_id, business_day, kafka_partition, "
        + ", ".join(counter.column for counter in KPI_COUNTERS)
        + f" FROM {EXACT_CALLS} AND business_day >= {{since:Date}} AND call_id IN ({copies_here})",
        parameters=parameters,
    )
    yield from result.result_rows
    moved_back = client.query(
        f"SELECT call_id, rank, business_day FROM {CORRECTED_TABLE} FINAL"
        f" WHERE business_day < {{since:Date}} AND call_id IN ({copies_here})",
        parameters=parameters,
    )
    no_counts = (0,) * len(KPI_COUNTERS)
    for call_id, rank, day in moved_back.result_rows:
        yield (call_id, rank, "", "", day, BEFORE_SINCE, *no_counts)


def month_to_date(client: Client, first: date, before: date) -> dict[str, Counters]:
    """rep_id -> the monthly counters (MONTHLY_COUNTERS order) for days ``first`` <= day < ``before``."""
    sums = ", ".join(kpi_sum(counter) for counter in MONTHLY_COUNTERS)
    result = client.query(
        f"SELECT rep_id, {sums} FROM {EXACT_CALLS}"
        " AND business_day >= {first:Date} AND business_day < {before:Date} GROUP BY rep_id",
        parameters={"first": first, "before": before},
    )
    return {rep: tuple(int(v) for v in values) for rep, *values in result.result_rows}


def campaign_abandons(client: Client, since: date) -> dict[str, tuple[int, int]]:
    """campaign_id -> (abandoned, connects) from business day ``since`` (inclusive) on: the
    30-day regime's window (whole business days, as the floor's reports count them)."""
    return _campaign_abandons(client, "business_day >= {since:Date}", {"since": since})


def campaign_abandons_after(client: Client, moment: datetime) -> dict[str, tuple[int, int]]:
    """campaign_id -> (abandoned, connects) of calls dialed at or after ``moment``: the 24-hour
    regime's rolling window (a clock window, not business days). The business-day bound, a day
    early whatever the zone, only lets ClickHouse skip older months' partitions."""
    day = moment.astimezone(UTC).date() - timedelta(days=1)
    condition = "business_day >= {day:Date} AND dialed_at >= {since:DateTime64(3, 'UTC')}"
    return _campaign_abandons(client, condition, {"day": day, "since": moment})


def _campaign_abandons(
    client: Client, condition: str, parameters: dict[str, object]
) -> dict[str, tuple[int, int]]:
    abandoned, connects = kpi_sum(KPI["abandoned"]), kpi_sum(KPI["connects"])
    result = client.query(
        f"SELECT campaign_id, {abandoned}, {connects} FROM {EXACT_CALLS}"
        f" AND {condition} GROUP BY campaign_id",
        parameters=parameters,
    )
    return {campaign: (int(a), int(c)) for campaign, a, c in result.result_rows}
