"""What the SQL fence's parse costs per statement (docs/ops/sql-fence.md).

Every statement the endpoint runs is first rendered by ClickHouse (``formatQuery``: the
baseline, which the endpoint paid before the fence read ClickHouse's tree), then parsed again
as ``EXPLAIN AST`` and walked by the fence, unless the same canonical text was admitted before
(the worker sends the same insert head every flush). Measured here, in one run and taking
turns, on one chdb session without HTTP: the baseline, baseline + fence on first sight, and
baseline + fence for a text seen before, for ``SELECT 1``, the worker's insert head, and the
project's longest DDL statements (the calls table and the payroll view).

    .venv/bin/python -m benchmarks.fence_cost --requests 300
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from chdb import session as chdb_session

from benchmarks.endpoint_requests import interleaved_ms
from benchmarks.harness import conditions, emit, main_guard, note
from deploy.local.clickhouse.engine import canonical_sql
from deploy.local.clickhouse.guard import Fence
from sinks.clickhouse.ddl import STATEMENTS
from sinks.clickhouse.payroll_ddl import payroll_statements

INSERT_HEAD = "INSERT INTO calls (call_id, version, rank, rep_id, team_id) FORMAT JSONCompactEachRow"


def measure(requests: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="callfloor-bench-fence-"))
    session = chdb_session.Session(str(home / "chdata"))
    try:
        combinators = session.query("SELECT name FROM system.aggregate_function_combinators", "TSV")
        fence = Fence(combinators.bytes().decode().split())
        for sql in STATEMENTS[:1]:
            session.query(sql)  # the insert head needs its table
        statements = {
            "SELECT 1": "SELECT 1",
            "worker insert head": INSERT_HEAD,
            "calls table DDL": STATEMENTS[0],
            "payroll view DDL": max(payroll_statements("UTC"), key=len),
        }
        kinds = {}
        for name, sql in statements.items():
            kinds[f"{name}: formatQuery (baseline)"] = lambda sql=sql: canonical_sql(session, sql)
            kinds[f"{name}: formatQuery + fence"] = lambda sql=sql: fence.verify(
                session, canonical_sql(session, sql), {}
            )
            kinds[f"{name}: formatQuery + fence, seen before"] = lambda sql=sql: fence.check(
                session, canonical_sql(session, sql), {}
            )
        note(f"{requests} of each kind, taking turns")
        figures = interleaved_ms(kinds, requests)
    finally:
        session.close()
    cond = conditions(requests=requests)
    names = list(figures)
    for baseline, *fenced in zip(names[::3], names[1::3], names[2::3], strict=True):
        emit("fence_cost", baseline, **figures[baseline], **cond)
        for what in fenced:
            over = round(figures[what]["median_ms"] - figures[baseline]["median_ms"], 3)
            emit("fence_cost", what, **figures[what], fence_ms=over, **cond)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    main_guard(lambda: measure(args.requests))


if __name__ == "__main__":
    main()
