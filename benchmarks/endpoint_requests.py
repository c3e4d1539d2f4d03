"""What the embedded endpoint's request isolation and SQL fence cost per request.

Every request runs in a chdb session of its own (settings cannot outlive it) after ClickHouse
has parsed and re-rendered the statement for the fence. Measured here, in one run: the engine's
floor (`SELECT 1` on one long-lived chdb session, no HTTP: the baseline), a fresh session with
the fence's `formatQuery` but no HTTP, a whole `SELECT 1` request through clickhouse-connect,
and a 20,000-row insert (the worker's default batch) through the endpoint.

    .venv/bin/python -m benchmarks.endpoint_requests --requests 300
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import clickhouse_connect
from chdb import session as chdb_session

from benchmarks.harness import conditions, emit, main_guard, note
from deploy.local.clickhouse import EmbeddedClickHouse
from deploy.local.clickhouse.engine import canonical_sql


def per_call_ms(run: Callable[[], object], n: int) -> float:
    run()  # warm
    started = time.perf_counter()
    for _ in range(n):
        run()
    return round((time.perf_counter() - started) * 1000 / n, 3)


def fresh_session_query(path: Path) -> None:
    session = chdb_session.Session(str(path))
    try:
        canonical_sql(session, "SELECT 1")
        session.query("SELECT 1", "TSV")
    finally:
        session.close()


def measure(requests: int, rows: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="callfloor-bench-endpoint-"))
    server = EmbeddedClickHouse(home / "chdata", port=0)
    server.start()
    try:
        assert server.token_file is not None
        client = clickhouse_connect.get_client(
            host="127.0.0.1", port=server.port, password=server.token_file.read_text().strip()
        )
        owner = chdb_session.Session(str(home / "chdata"))  # one more long-lived session, as before
        note(f"{requests} requests of each kind")
        floor = per_call_ms(lambda: owner.query("SELECT 1", "TSV"), requests)
        fresh = per_call_ms(lambda: fresh_session_query(home / "chdata"), requests)
        whole = per_call_ms(lambda: client.command("SELECT 1"), requests)
        client.command("CREATE TABLE batch (n UInt64, s String) ENGINE = MergeTree ORDER BY n")
        data = [[i, f"rep-{i % 500:05d}"] for i in range(rows)]
        insert = per_call_ms(lambda: client.insert("batch", data, column_names=["n", "s"]), 10)
        owner.close()
        client.close()
    finally:
        server.stop()
    cond = conditions(requests=requests, rows=rows)
    emit("endpoint_requests", "baseline: SELECT 1 on a long-lived chdb session, no HTTP", ms=floor, **cond)
    emit("endpoint_requests", "fresh session + formatQuery + SELECT 1, no HTTP", ms=fresh,
         over_baseline_ms=round(fresh - floor, 3), **cond)  # fmt: skip
    emit("endpoint_requests", "SELECT 1 through the endpoint (clickhouse-connect)", ms=whole,
         over_baseline_ms=round(whole - floor, 3), **cond)  # fmt: skip
    emit("endpoint_requests", f"insert of {rows} rows through the endpoint", ms=insert,
         isolation_share=round((fresh - floor) / insert, 3) if insert else None, **cond)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    main_guard(lambda: measure(args.requests, args.rows))


if __name__ == "__main__":
    main()
