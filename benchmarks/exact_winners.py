"""Does choosing each corrected call's winner by ``max(rank) ... GROUP BY`` (today's
``EXACT_CALLS``, safe from ClickHouse #77996 on a cluster) cost more than ``FINAL`` (the form
before, the baseline here)?

Builds a year of calls (1 % corrected by a version 2, a tenth of those moved a day) as
benchmarks/payroll.py does, then times payroll's month query and one partition's seed with
each form of the winners subquery, interleaved, median of ``--repeat``; ``--merged`` merges
all parts first.

    .venv/bin/python -m benchmarks.exact_winners --calls 2000000 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta

from benchmarks.harness import Stack, conditions, emit, main_guard, note
from benchmarks.payroll import FIRST_DAY, MONTH, TODAY, fill
from schemas.kpis import KPI_COUNTERS
from sinks.clickhouse.ddl import (
    CALLS_TABLE,
    CORRECTED_TABLE,
    PARTITIONS_TABLE,
    WINNERS,
    exact_calls,
    kpi_sum,
)
from sinks.clickhouse.schema_version import apply_schema

FINAL_WINNERS = f"SELECT call_id, rank AS winner_rank FROM {CORRECTED_TABLE} FINAL"
FORMS = {"max(rank) GROUP BY (today)": WINNERS, "FINAL (before)": FINAL_WINNERS}


def month_query(exact: str) -> str:
    sums = ", ".join(kpi_sum(c) for c in KPI_COUNTERS)
    return (f"SELECT rep_id, team_id, business_day, {sums} FROM {exact}"
            " AND business_day BETWEEN {first:Date} AND {last:Date} GROUP BY rep_id, team_id, business_day")


def seed_query(exact: str) -> str:
    return (f"SELECT call_id, rank FROM {exact} AND business_day >= {{since:Date}} AND call_id IN"
            f" (SELECT call_id FROM {PARTITIONS_TABLE} WHERE kafka_partition = 0"
            " AND business_day >= {since:Date})")


def run(args: argparse.Namespace) -> None:
    with Stack("exact-winners") as stack:
        settings = stack.settings("winners")
        with apply_schema(settings) as client:
            note(f"adding {args.calls:,} calls")
            fill(client, args.calls, args.reps, FIRST_DAY, 0)
            if args.merged:
                for table in (CALLS_TABLE, PARTITIONS_TABLE, CORRECTED_TABLE):
                    client.command(f"OPTIMIZE TABLE {table} FINAL")
            reads: dict[str, tuple[Callable[[str], str], dict]] = {
                "month query": (month_query, {"first": MONTH, "last": date(2026, 10, 31)}),
                "partition seed (2 days)": (seed_query, {"since": TODAY - timedelta(days=1)}),
            }
            for what, (query, parameters) in reads.items():
                seconds: dict[str, list[float]] = {form: [] for form in FORMS}
                rows: dict[str, list] = {}
                for _ in range(args.repeat):
                    for form, winners in FORMS.items():  # interleaved: load hits both alike
                        start = time.perf_counter()
                        sql = query(exact_calls(winners))
                        rows[form] = client.query(sql, parameters=parameters).result_rows
                        seconds[form].append(time.perf_counter() - start)
                same = len({repr(sorted(r)) for r in rows.values()}) == 1
                for form in FORMS:
                    emit("exact_winners", what, seconds=round(statistics.median(seconds[form]), 3),
                         rows=len(rows[form]), same_rows_as_baseline=same,
                         **conditions(winners=form, calls=args.calls, merged=args.merged, repeat=args.repeat,
                                      partitions=8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2_000_000)
    parser.add_argument("--reps", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--merged", action="store_true", help="merge all parts first")
    main_guard(lambda: run(parser.parse_args()))


if __name__ == "__main__":
    main()
