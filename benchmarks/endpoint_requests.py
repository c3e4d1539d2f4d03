"""What the embedded endpoint's request isolation, SQL fence and engine sandbox cost per request.

Every request runs in a chdb session of its own (settings cannot outlive it) after ClickHouse
has parsed and re-rendered the statement for the fence; the engine itself runs in a confined
process of its own behind a Unix socket (docs/ops/engine-sandbox.md). Measured here, in one run and in
turns: the engine's floor (`SELECT 1` on one long-lived chdb session, no HTTP: the baseline), a
fresh session with the fence's `formatQuery` but no HTTP, a whole `SELECT 1` request through
clickhouse-connect to the in-process engine (the path before the sandbox) and to the sandboxed
engine, and the worker's insert of a 20,000-row batch (what CallWriter sends: the calls rows and
their partition homes as JSONCompactEachRow) to each.

    .venv/bin/python -m benchmarks.endpoint_requests --requests 300
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from chdb import session as chdb_session
from clickhouse_connect.driver.client import Client

from benchmarks.harness import conditions, emit, main_guard, note
from deploy.local.clickhouse import EmbeddedClickHouse
from deploy.local.clickhouse.engine import canonical_sql
from schemas.cdr import parse_cdr
from schemas.kpis import contribution
from schemas.settings import Settings
from simulator import SimulationSpec
from simulator.traffic import generate
from sinks.clickhouse.calls import Row, call_row
from sinks.clickhouse.client import connect
from sinks.clickhouse.schema_version import apply_schema
from sinks.clickhouse.writer import CallWriter


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


def worker_rows(n: int) -> list[Row]:
    """``n`` calls rows as the worker builds them from the simulator's CDRs."""
    settings = Settings()
    spec = SimulationSpec(reps=200, calls=n, seed=7)
    cdrs = [parse_cdr(e.value) for e in generate(spec, now=datetime.now(UTC)) if e.kind == "call"]
    return [
        call_row(cdr, contribution(cdr, settings.valid_call_seconds).as_tuple(), i % 8, i, settings.zone)
        for i, cdr in enumerate(cdrs[:n])
    ]


@contextmanager
def endpoint(home: Path, *, sandbox: bool) -> Iterator[tuple[Client, CallWriter]]:
    """An endpoint with the project's schema; a client and the worker's writer to it."""
    server = EmbeddedClickHouse(home / "chdata", port=0, sandbox=sandbox)
    server.start()
    try:
        settings = Settings(data_dir=home, clickhouse_url=server.url)
        apply_schema(settings).close()
        client = connect(settings)
        writer = CallWriter(lambda: connect(settings))
        writer.connect()
        try:
            yield client, writer
        finally:
            client.close()
    finally:
        server.stop()


def measure(requests: int, rows: int) -> None:
    homes = [Path(tempfile.mkdtemp(prefix=f"callfloor-bench-endpoint-{kind}-")) for kind in ("in", "sb")]
    batch = worker_rows(rows)
    loop = asyncio.new_event_loop()
    with endpoint(homes[0], sandbox=False) as (inproc, inproc_writer), \
            endpoint(homes[1], sandbox=True) as (sandboxed, sandboxed_writer):  # fmt: skip
        spare = homes[0] / "chdata"  # one chdb path per process: the in-process engine's
        owner = chdb_session.Session(str(spare))  # one more long-lived session, no HTTP
        note(f"{requests} requests of each kind, taking turns")
        figures = interleaved_ms({
            "baseline: SELECT 1 on a long-lived chdb session, no HTTP": lambda: owner.query("SELECT 1"),
            "fresh session + formatQuery + SELECT 1, no HTTP": lambda: fresh_session_query(spare),
            "SELECT 1 through the endpoint, engine in-process (before the sandbox)":
                lambda: inproc.command("SELECT 1"),
            "SELECT 1 through the endpoint, sandboxed engine process": lambda: sandboxed.command("SELECT 1"),
        }, requests)  # fmt: skip
        inserts = interleaved_ms({
            f"insert of the worker's {len(batch)}-row batch, engine in-process (before the sandbox)":
                lambda: loop.run_until_complete(inproc_writer.write(batch)),
            f"insert of the worker's {len(batch)}-row batch, sandboxed engine process":
                lambda: loop.run_until_complete(sandboxed_writer.write(batch)),
        }, max(3, requests // 30))  # fmt: skip
        owner.close()
    loop.close()
    cond = conditions(requests=requests, rows=len(batch))
    floor = next(iter(figures.values()))["median_ms"]
    for what, figure in figures.items():
        over = round(figure["median_ms"] - floor, 3)
        emit("endpoint_requests", what, **figure, over_baseline_ms=over, **cond)
    before = next(iter(inserts.values()))["median_ms"]
    for what, figure in inserts.items():
        emit("endpoint_requests", what, **figure, over_in_process_ms=round(figure["median_ms"] - before, 3),
             **cond)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    main_guard(lambda: measure(args.requests, args.rows))


if __name__ == "__main__":
    main()
