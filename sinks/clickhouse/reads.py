"""Exact reads of what landed: the report payroll trusts, and the live-state seed.

Every read goes through ``calls FINAL`` (see ddl.py), so a call counts once at
its winning version no matter how many copies were inserted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Literal

from clickhouse_connect.driver.client import Client

from schemas.metrics import COUNTER_NAMES
from sinks.clickhouse.calls import COUNTER_COLUMNS
from sinks.clickhouse.ddl import CALLS_TABLE, PARTITIONS_TABLE

GroupBy = Literal["rep", "team", "campaign"]

# Int128: an Int64 sum of money wraps silently on a big enough floor or amount
_SUMS = ", ".join(f"sum(toInt128({col})) AS {name}" for name, col in COUNTER_COLUMNS.items())

_KEYS: dict[GroupBy, tuple[str, str]] = {
    # (key column, extra columns)
    "rep": ("rep_id", "argMax(team_id, dialed_at) AS team_id, "),
    "team": ("team_id", ""),
    "campaign": ("campaign_id", ""),
}


def cents_to_decimal_string(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def report_rows(client: Client, first: date, last: date, by: GroupBy) -> list[dict[str, object]]:
    """One row per (business_day, key), ordered, with the contract's column names."""
    key, extra = _KEYS[by]
    result = client.query(
        f"SELECT business_day, {key}, {extra}{_SUMS} FROM {CALLS_TABLE} FINAL"
        " WHERE business_day BETWEEN {first:Date} AND {last:Date}"
        f" GROUP BY business_day, {key} ORDER BY business_day, {key}",
        parameters={"first": first, "last": last},
    )
    rows = []
    for record in result.named_results():
        row: dict[str, object] = {"business_day": record["business_day"].isoformat()}
        row[key] = record[key]
        if "team_id" in record and key != "team_id":
            row["team_id"] = record["team_id"]
        for name in COUNTER_NAMES:
            if name == "revenue_cents":
                row["revenue"] = cents_to_decimal_string(int(record[name]))
            else:
                row[name] = int(record[name])
        rows.append(row)
    return rows


def partition_calls(client: Client, partition: int, since: date) -> Iterator[tuple]:
    """The winning version of every call that has any copy on one Kafka partition since a day.

    Rows: call_id, rank, rep_id, team_id, business_day, kafka_partition of the winner,
    then the counters. A call whose winner moved to another partition (a correction that
    changed its rep) is still returned, so its old copies are known here as superseded.
    """
    result = client.query(
        "SELECT call_id, rank, rep_id, team_id, business_day, kafka_partition, "
        + ", ".join(COUNTER_COLUMNS.values())
        + f" FROM {CALLS_TABLE} FINAL WHERE call_id IN ("
        f"SELECT call_id FROM {PARTITIONS_TABLE}"
        " WHERE kafka_partition = {partition:UInt32} AND business_day >= {since:Date})",
        parameters={"partition": partition, "since": since},
    )
    yield from result.result_rows


def month_to_date(client: Client, first: date, before: date) -> dict[str, tuple[int, int, int]]:
    """rep_id -> (sales, revenue_cents, new_customers) for days ``first`` <= day < ``before``."""
    result = client.query(
        "SELECT rep_id, sum(sales), sum(toInt128(revenue_cents)), sum(new_customers)"
        f" FROM {CALLS_TABLE} FINAL"
        " WHERE business_day >= {first:Date} AND business_day < {before:Date} GROUP BY rep_id",
        parameters={"first": first, "before": before},
    )
    return {rep: (int(s), int(r), int(n)) for rep, s, r, n in result.result_rows}


def campaign_abandons(client: Client, since: date) -> dict[str, tuple[int, int]]:
    """campaign_id -> (abandoned, connects) from ``since`` (inclusive) on."""
    result = client.query(
        f"SELECT campaign_id, sum(abandoned), sum(connects) FROM {CALLS_TABLE} FINAL"
        " WHERE business_day >= {since:Date} GROUP BY campaign_id",
        parameters={"since": since},
    )
    return {campaign: (int(a), int(c)) for campaign, a, c in result.result_rows}
