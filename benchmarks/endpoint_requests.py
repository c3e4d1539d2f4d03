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
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import clickhouse_connect
from chdb import session as chdb_session

from benchmarks.harness import conditions, emit, main_guard, note
from deploy.local.clickhouse import EmbeddedClickHouse
from deploy.local.clickhouse.engine import canonical_sql


def interleaved_ms(kinds: dict[str, Callable[[], object]], n: int) -> dict[str, dict[str, float]]:
    """Median and p90 per call of each kind, taking turns so that a busy machine's load falls
    on every kind alike."""
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    for run in kinds.values():
        run()  # warm
    for _ in range(n):
        for name, run in kinds.items():
            started = time.perf_counter()
            run()
            samples[name].append((time.perf_counter() - started) * 1000)
    return {
        name: {"median_ms": round(statistics.median(v), 3),
               "p90_ms": round(statistics.quantiles(v, n=10)[-1], 3)}
        for name, v in samples.items()
    }  # fmt: skip


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
        client.command("CREATE TABLE batch (n UInt64, s String) ENGINE = MergeTree ORDER BY n")
        data = [[i, f"rep-{i % 500:05d}"] for i in range(rows)]
        note(f"{requests} requests of each kind, taking turns")
        figures = interleaved_ms({
            "baseline: SELECT 1 on a long-lived chdb session, no HTTP": lambda: owner.query("SELECT 1"),
            "fresh session + formatQuery + SELECT 1, no HTTP": lambda: fresh_session_query(home / "chdata"),
            "SELECT 1 through the endpoint (clickhouse-connect)": lambda: client.command("SELECT 1"),
        }, requests)  # fmt: skip
        insert_what = f"insert of {rows} rows through the endpoint"
        insert_batch = lambda: client.insert("batch", data, column_names=["n", "s"])  # noqa: E731
        inserts = interleaved_ms({insert_what: insert_batch}, max(3, requests // 30))
        owner.close()
        client.close()
    finally:
        server.stop()
    cond = conditions(requests=requests, rows=rows)
    floor = next(iter(figures.values()))["median_ms"]
    for what, figure in figures.items():
        over = round(figure["median_ms"] - floor, 3)
        emit("endpoint_requests", what, **figure, over_baseline_ms=over, **cond)
    isolation = list(figures.values())[1]["median_ms"] - floor
    for what, figure in inserts.items():
        emit("endpoint_requests", what, **figure,
             isolation_share=round(isolation / figure["median_ms"], 3), **cond)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    main_guard(lambda: measure(args.requests, args.rows))


if __name__ == "__main__":
    main()
