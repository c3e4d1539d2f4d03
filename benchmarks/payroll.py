"""A month's payroll and the worker's refreshes over a year of history, beside the layout before.

Builds 12 months of calls (default 10,000,000, 1 % of them corrected by a version 2, a
tenth of those moved to the next day, which crosses a month at month ends) straight into
ClickHouse with ``INSERT ... SELECT FROM numbers()`` (not through Kafka: this measures
reads), twice: in today's layout (``calls`` and ``call_partitions`` partitioned by month)
and, as the baseline, in a second database with the layout before month partitions (what
``callfloor migrate-calls`` converts); the same code reads both. ``--merged`` merges all
parts first (the steady state of old months). Timed (median of --repeat), on each layout:

- payroll's month query alone, and the whole payroll for the month (read + targets + statements)
- the worker's refreshes: month to date, 30-day campaign abandons, one partition's seed
- ``--grow``: then a second, older year of calls is added to both and everything is timed
  again: today's layout should not move; the old one grows with history.

    .venv/bin/python -m benchmarks.payroll --calls 10000000 --reps 2000 --merged --grow
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from benchmarks.harness import Stack, conditions, emit, main_guard, note
from payroll.compute import compute_month
from payroll.inputs import Inputs, parse_inputs
from payroll.plan import PayPlan, parse_plan
from schemas.kpis import KPI_COUNTERS
from schemas.targets import parse_targets
from sinks.clickhouse.calls import COLUMNS
from sinks.clickhouse.calls_layout import recreate_unpartitioned
from sinks.clickhouse.ddl import (
    CALLS_TABLE,
    CORRECTED_TABLE,
    EXACT_CALLS,
    PARTITIONS_TABLE,
    kpi_sum,
)
from sinks.clickhouse.payroll_reads import read_month
from sinks.clickhouse.reads import campaign_abandons, month_to_date, partition_calls
from sinks.clickhouse.schema_version import apply_schema
from sinks.clickhouse.targets import record_targets

PLAN = Path(__file__).resolve().parent.parent / "deploy" / "payroll.example.yaml"
FIRST_DAY = date(2025, 11, 1)
MONTH = date(2026, 10, 1)  # the last of the 12 months
DAYS = 365
TODAY = MONTH + timedelta(days=20)  # as the refreshes see it
LAYOUTS = ("by month (today)", "unpartitioned (before)")

# One call per number n: rep n % reps, spread evenly over the 365 days; 1 in 10 connects.
_ROW = """
    concat('c', toString(n)) AS call_id, {version} AS version,
    bitOr(bitShiftLeft(toUInt64({version}), 40), 1099511627775 - n) AS rank,
    concat('rep-', leftPad(toString(n % {reps}), 5, '0')) AS rep_id,
    concat('team-', leftPad(toString(intDiv(n % {reps}, 10)), 4, '0')) AS team_id,
    concat('camp-', toString(n % 3)) AS campaign_id, 'outbound' AS direction,
    toDate('{first}') + intDiv((n - {start}) * {days}, {calls}) + {shift} AS business_day,
    toDateTime64(business_day, 3, 'UTC') + toIntervalSecond(3600 + n % 28800) AS dialed_at,
    if(n % 10 = 0, dialed_at + toIntervalSecond(10), NULL) AS answered_at,
    dialed_at + toIntervalSecond(60) AS ended_at, toUInt8(9 + intDiv(n % 28800, 3600)) AS business_hour,
    toDateTime(toStartOfHour(dialed_at), 'UTC') AS hour_start,
    if(n % 10 = 0, 'answered', 'no_answer') AS disposition, if(n % 10 = 0, 'human', NULL) AS amd,
    toUInt32(if(n % 10 = 0, (n * 7) % 300 + {version}, 0)) AS talk_seconds, toUInt32(5) AS wrap_seconds,
    if(n % 10 = 0 AND n % 7 = 0, 'sale', NULL) AS outcome,
    if(outcome = 'sale', toDecimal64(999, 2), NULL) AS sale_amount, 'CNY' AS currency,
    outcome = 'sale' AND n % 2 = 0 AS new_customer, sale_amount AS list_price, sale_amount AS sold_price,
    toUInt8(1) AS dials, toUInt8(n % 10 = 0) AS connects,
    toUInt8(n % 10 = 0 AND talk_seconds >= 30) AS valid_connects,
    talk_seconds AS counted_talk, toUInt32(if(n % 10 = 0, 5, 0)) AS counted_wrap,
    toUInt8(outcome = 'sale') AS sales, toInt64(if(outcome = 'sale', 99900, 0)) AS revenue_cents,
    toUInt8(new_customer) AS new_customers, toUInt8(0) AS abandoned,
    connects AS outbound_connects, counted_talk AS outbound_talk,
    toUInt32(n % 8) AS kafka_partition, toUInt64(n) AS kafka_offset
"""


def fill(client: Client, calls: int, reps: int, first: date, start: int) -> None:
    """A year of calls from ``first`` (call ids from ``start``), then version 2 of 1 % of them
    (a tenth moved one day later), and the copies the writer records in call_partitions."""
    common = {"reps": reps, "first": first.isoformat(), "days": DAYS, "calls": calls, "start": start}
    columns = ", ".join(COLUMNS)
    for where, version, shift in (("", 1, "0"), (" WHERE n % 100 = 0", 2, "toUInt8(n % 1000 = 0)")):
        row = _ROW.format(version=version, shift=shift, **common)
        client.command(
            f"INSERT INTO {CALLS_TABLE} ({columns}) SELECT {columns} FROM (SELECT number + {start} AS n,"
            f" {row} FROM numbers({calls}){where})",
            settings={"max_insert_threads": 2},
        )
    client.command(
        f"INSERT INTO {PARTITIONS_TABLE} SELECT kafka_partition, call_id, business_day FROM {CALLS_TABLE}"
        f" WHERE toUInt64(substring(call_id, 2)) >= {start}"
    )


def copy_new_calls(source: str, client: Client, start: int) -> None:
    """The rows ``fill`` just added to ``source``'s call tables, into ``client``'s (views fire)."""
    since = f"toUInt64(substring(call_id, 2)) >= {start}"
    for table in (CALLS_TABLE, PARTITIONS_TABLE):
        client.command(f"INSERT INTO {table} SELECT * FROM {source}.{table} WHERE {since}")


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    seconds, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return round(statistics.median(seconds), 3), result


def month_read(client: Client) -> list:
    """Payroll's month query alone, as every exact read reads: ``EXACT_CALLS``."""
    sums = ", ".join(kpi_sum(c) for c in KPI_COUNTERS)
    return client.query(
        f"SELECT rep_id, team_id, business_day, {sums} FROM {EXACT_CALLS}"
        " AND business_day BETWEEN {first:Date} AND {last:Date} GROUP BY rep_id, team_id, business_day",
        parameters={"first": MONTH, "last": date(2026, 10, 31)},
    ).result_rows


def bench_plan(reps: int) -> tuple[PayPlan, Inputs]:
    """The example plan without its regions (the benchmark's teams are in none) and a roster of
    the benchmark's reps, hired before the calls."""
    text = PLAN.read_text(encoding="utf-8")
    text = text[: text.index("regions:")] + text[text.index("allowances:") :]
    plan = parse_plan(text.encode(), str(PLAN))
    roster = "person_id,name,role,team,hired\n" + "".join(
        f"rep-{i:05d},rep {i},rep,team-{i // 10:04d},2020-01-01\n" for i in range(reps)
    )
    files = {"roster.csv": roster, "allowances.csv": "rep_id,item,amount\n"}
    files |= {spec.file: "rep_id,actual\n" for spec in plan.doc.kpis.values() if spec.file}
    return plan, parse_inputs(plan, files)


def time_reads(client: Client, zone: ZoneInfo, plan: tuple[PayPlan, Inputs], repeat: int, cond: dict) -> None:
    """Every timed read on one layout, each printed as a JSON line."""
    reads: dict[str, Callable[[], object]] = {
        "month query": lambda: month_read(client),
        "payroll for the month (read + targets + statements)": lambda: compute_month(
            plan[0], read_month(client, MONTH, zone), plan[1]
        ),
        "month to date refresh": lambda: month_to_date(client, MONTH, TODAY),
        "campaign abandons refresh (30 days)": lambda: campaign_abandons(client, TODAY - timedelta(days=30)),
        "partition seed (2 days)": lambda: list(partition_calls(client, 0, TODAY - timedelta(days=1))),
    }
    for what, read in reads.items():
        seconds, result = timed(read, repeat)
        emit("payroll", what, seconds=seconds, rows=len(result), **cond)  # type: ignore[arg-type]  # cond: the run's conditions, figures like the rest


def run(args: argparse.Namespace) -> None:
    plan = bench_plan(args.reps)
    targets = parse_targets(
        (
            "version: 1\ndefaults: {daily: {connects: 3, valid_connects: 2, talk_minutes: 10}, "
            'monthly: {revenue: "3000.00", new_customers: 1}}\nreps:\n'
            + "".join(f"  rep-{i:05d}: {{team: team-{i // 10:04d}}}\n" for i in range(args.reps))
        ).encode(),
        "bench-targets.yaml",
    )
    with Stack("payroll") as stack:
        layouts = dict(zip(LAYOUTS, (stack.settings("payroll"), stack.settings("before")), strict=True))
        clients = {name: apply_schema(settings) for name, settings in layouts.items()}
        recreate_unpartitioned(clients[LAYOUTS[1]])
        today_db = layouts[LAYOUTS[0]].clickhouse_database
        years = [(FIRST_DAY, 0)] + ([(FIRST_DAY - timedelta(days=DAYS), args.calls)] if args.grow else [])
        for n, (first, start) in enumerate(years, start=1):
            note(f"adding {args.calls:,} calls from {first} to both layouts")
            began = time.perf_counter()
            fill(clients[LAYOUTS[0]], args.calls, args.reps, first, start)
            copy_new_calls(today_db, clients[LAYOUTS[1]], start)
            for client in clients.values():
                if args.merged:
                    for table in (CALLS_TABLE, PARTITIONS_TABLE, CORRECTED_TABLE):
                        client.command(f"OPTIMIZE TABLE {table} FINAL")
                if n == 1:
                    record_targets(client, targets, datetime(2025, 10, 1, tzinfo=UTC))
            note(f"  {time.perf_counter() - began:.1f} s")
            for layout, client in clients.items():
                cond = conditions(
                    layout=layout, calls=args.calls * n, history_months=12 * n, reps=args.reps, partitions=8,
                    repeat=args.repeat, merged=args.merged,
                )  # fmt: skip
                time_reads(client, layouts[layout].zone, plan, args.repeat, cond)
        for client in clients.values():
            client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000, help="calls per year (issue: >= 10M)")
    parser.add_argument("--reps", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--merged",
        action="store_true",
        help="merge all parts after filling (the steady state a year of background merges leaves)",
    )
    parser.add_argument("--grow", action="store_true", help="then add an older year to both and time again")
    args = parser.parse_args()
    main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
