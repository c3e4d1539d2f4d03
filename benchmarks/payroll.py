"""A month's payroll over a year of history, beside the plain exact month read.

Builds 12 months of calls (default 10,000,000, 1 % of them corrected by a version 2, a
tenth of those moved to the next day, which crosses a month at month ends) straight into
ClickHouse with ``INSERT ... SELECT FROM numbers()`` (not through Kafka: this measures
reads; ``--merged`` merges all parts after, the steady state). Then times (median of --repeat):

- baseline: payroll's month query alone (``calls FINAL`` for the month, summed per rep, team, day)
- the whole payroll for the month (read + targets + statements for every rep)
- the worker's 30-second refreshes (month to date, 30-day campaign abandons)

    .venv/bin/python -m benchmarks.payroll --calls 10000000 --reps 2000
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from clickhouse_connect.driver.client import Client

from benchmarks.harness import Stack, conditions, emit, main_guard, note
from payroll.compute import compute_month
from payroll.inputs import Inputs
from payroll.plan import load_plan
from schemas.kpis import KPI_COUNTERS
from schemas.targets import parse_targets
from sinks.clickhouse.calls import COLUMNS
from sinks.clickhouse.ddl import CALLS_TABLE, EXACT_CALLS, apply_schema, kpi_sum
from sinks.clickhouse.payroll_reads import read_month
from sinks.clickhouse.reads import campaign_abandons, month_to_date
from sinks.clickhouse.targets import record_targets

PLAN = Path(__file__).resolve().parent.parent / "deploy" / "payroll.example.yaml"
FIRST_DAY = date(2025, 11, 1)
MONTH = date(2026, 10, 1)  # the last of the 12 months
DAYS = 365

# One call per number n: rep n % reps, spread evenly over the 365 days; 1 in 10 connects.
_ROW = """
    concat('c', toString(n)) AS call_id, {version} AS version,
    bitOr(bitShiftLeft(toUInt64({version}), 40), 1099511627775 - n) AS rank,
    concat('rep-', leftPad(toString(n % {reps}), 5, '0')) AS rep_id,
    concat('team-', leftPad(toString(intDiv(n % {reps}, 10)), 4, '0')) AS team_id,
    concat('camp-', toString(n % 3)) AS campaign_id, 'outbound' AS direction,
    toDate('{first}') + intDiv(n * {days}, {calls}) + {shift} AS business_day,
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
    toUInt32(n % 8) AS kafka_partition, toUInt64(n) AS kafka_offset
"""


def fill(client: Client, calls: int, reps: int) -> None:
    """The year of calls, then version 2 of 1 % of them (a tenth moved one day later)."""
    common = {"reps": reps, "first": FIRST_DAY.isoformat(), "days": DAYS, "calls": calls}
    for where, version, shift in (("", 1, "0"), (" WHERE n % 100 = 0", 2, "toUInt8(n % 1000 = 0)")):
        row = _ROW.format(version=version, shift=shift, **common)
        columns = ", ".join(COLUMNS)
        client.command(
            f"INSERT INTO {CALLS_TABLE} ({columns}) SELECT {columns} FROM (SELECT number AS n, {row}"
            f" FROM numbers({calls}){where})",
            settings={"max_insert_threads": 2},
        )


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    seconds, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return round(statistics.median(seconds), 3), result


def time_refreshes(client: Client, what: str, repeat: int, cond: dict) -> None:
    """The worker's 30-second ClickHouse refreshes, each timed and printed."""
    refreshes = {
        "month_to_date": lambda: month_to_date(client, MONTH, MONTH + timedelta(days=20)),
        "campaign_abandons_30d": lambda: campaign_abandons(client, MONTH),
    }
    for name, fn in refreshes.items():
        seconds, _ = timed(fn, repeat)
        emit("payroll", what.format(name), seconds=seconds, **cond)


def month_read(client: Client) -> list:
    """Payroll's month query alone, as every exact read reads: ``EXACT_CALLS``."""
    sums = ", ".join(kpi_sum(c) for c in KPI_COUNTERS)
    return client.query(
        f"SELECT rep_id, team_id, business_day, {sums} FROM {EXACT_CALLS}"
        " AND business_day BETWEEN {first:Date} AND {last:Date} GROUP BY rep_id, team_id, business_day",
        parameters={"first": MONTH, "last": date(2026, 10, 31)},
    ).result_rows


def run(args: argparse.Namespace) -> None:
    cond = conditions(
        calls=args.calls, reps=args.reps, months=12, repeat=args.repeat, partitions=1, merged=args.merged
    )
    plan = load_plan(PLAN)
    targets = parse_targets(
        (
            "version: 1\ndefaults: {daily: {connects: 3, valid_connects: 2, talk_minutes: 10}, "
            'monthly: {revenue: "3000.00", new_customers: 1}}\nreps:\n'
            + "".join(f"  rep-{i:05d}: {{team: team-{i // 10:04d}}}\n" for i in range(args.reps))
        ).encode(),
        "bench-targets.yaml",
    )
    with Stack("payroll") as stack:
        settings = stack.settings("payroll")
        with apply_schema(settings) as client:
            note(f"filling {settings.clickhouse_database} with {args.calls:,} calls")
            start = time.perf_counter()
            fill(client, args.calls, args.reps)
            if args.merged:
                client.command(f"OPTIMIZE TABLE {CALLS_TABLE} FINAL")
            record_targets(client, targets, datetime(2025, 10, 1, tzinfo=UTC))
            note(f"  {time.perf_counter() - start:.1f} s")
            seconds, rows = timed(lambda: month_read(client), args.repeat)
            emit("payroll", "baseline: month query (calls FINAL)", seconds=seconds, rows=len(rows), **cond)

            def whole() -> list:
                return compute_month(plan, read_month(client, MONTH, settings.zone), Inputs())

            seconds, statements = timed(whole, args.repeat)
            emit(
                "payroll",
                "payroll for the month (read + targets + statements)",
                seconds=seconds,
                statements=len(statements),
                **cond,
            )
            time_refreshes(client, "{} refresh", args.repeat, cond)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000, help="calls over 12 months (issue: >= 10M)")
    parser.add_argument("--reps", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--merged",
        action="store_true",
        help="merge all parts after filling (the steady state a year of background merges leaves)",
    )
    args = parser.parse_args()
    main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
