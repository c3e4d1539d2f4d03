"""How fast does ``callfloor ingest`` read an Asterisk Master.csv?

Writes an N-row ``cdr_csv`` file (``newcdrcolumns`` layout; a third of the calls ring two
trunks in parallel, so their two rows share ``uniqueid``/``linkedid``; caller names with
quotes and commas), then, in the same run:

- baseline: Python's ``csv`` module alone reading the file (rows/s);
- ``map``: the import without a broker (read, map, collapse legs, validate each CDR with
  ``parse_cdr``, encode), records/s;
- ``map + produce``: the whole import into a Tansu broker started on a free port, records/s,
  beside a second baseline: kafka-python producing the same number of ready CDRs to the same
  broker (skipped with ``--no-broker``).

    .venv/bin/python -m benchmarks.ingest --rows 1000000
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks.harness import conditions, emit, main_guard, note, rate, ratio
from ingest.mapping import IngestMapping, Rule
from ingest.producer import KafkaSink, Sink
from ingest.run import IngestJob, run_job

BENCH = "ingest"
DAY_START = 1_762_041_600  # 2026-11-02 08:00 +08:00


def _row(n: int, leg: int, answered: bool, start: int) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + 8 * 3600))
    talk = 30 + n % 200 if answered else 0
    answer = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + 8 * 3600 + 5)) if answered else ""
    end = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + 8 * 3600 + 5 + talk))
    rep = 1000 + n % 200
    uid = f"{start}.{n}"
    return (f'"","{rep}","1380{n:07d}","outbound","""Rep {rep}, floor"" <{rep}>","SIP/{rep}-{n:08x}",'
            f'"SIP/trunk{leg}-{n:08x}","Dial","SIP/trunk{leg}/1380{n:07d},30","{stamp}","{answer}","{end}",'
            f'{talk + 5},{talk},"{"ANSWERED" if answered else "NO ANSWER"}","DOCUMENTATION","{uid}",'
            f'"campaign=c{n % 7}","","{uid}","{n}"\n')  # fmt: skip


def write_master_csv(path: Path, rows: int) -> int:
    """``rows`` rows of ``cdr_csv``; returns the number of calls in them."""
    calls = written = 0
    with open(path, "w", newline="") as out:
        while written < rows:
            start = DAY_START + calls * 3 % 36_000
            answered = calls % 3 != 1
            if calls % 3 == 0 and written + 1 < rows:
                out.write(_row(calls, 2, False, start))
                written += 1
            out.write(_row(calls, 1, answered, start))
            written += 1
            calls += 1
    return calls


class CountingSink:
    def __init__(self) -> None:
        self.calls = self.rejects = 0

    def call(self, rep_id: str, value: bytes) -> None:
        self.calls += 1

    def dead_letter(self, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self.rejects += 1

    def flush(self) -> None:
        return None

    def close(self) -> list[BaseException]:
        return []


MAPPING = IngestMapping(
    rep=[Rule(field="channel", pattern=r"^SIP/(?P<rep>\d+)-")],
    campaign=[Rule(field="userfield", pattern=r"campaign=(?P<campaign>\w+)")],
)


def timed_import(path: Path, sink: Sink) -> tuple[float, int]:
    job = IngestJob(fmt="asterisk-csv", target=str(path), mapping=MAPPING, zone=ZoneInfo("Asia/Shanghai"),
                    progress=False)  # fmt: skip
    began = time.perf_counter()
    progress = run_job(job, sink)
    failures = sink.close()
    if failures:
        raise RuntimeError(f"{len(failures)} records not acknowledged: {failures[0]!r}")
    return time.perf_counter() - began, progress.records


class ProduceAlone:
    """The same number of ready-made CDRs through the same sink: what producing alone costs."""

    def __init__(self, sink: KafkaSink, calls: int) -> None:
        self.sink, self.calls = sink, calls

    def __call__(self) -> float:
        value = (
            b'{"schema_version":1,"call_id":"ast-0","version":16,"rep_id":"1000","team_id":"unassigned",'
            b'"campaign_id":"c0","direction":"outbound","dialed_at":"2026-11-02T08:00:00+08:00",'
            b'"answered_at":"2026-11-02T08:00:05+08:00","ended_at":"2026-11-02T08:00:35+08:00",'
            b'"disposition":"answered","amd":null,"talk_seconds":30,"wrap_seconds":0,"outcome":null,'
            b'"sale_amount":null,"currency":"CNY","new_customer":false,"list_price":null,"sold_price":null}'
        )
        began = time.perf_counter()
        for n in range(self.calls):
            self.sink.call(str(1000 + n % 200), value)
        self.sink.close()
        return time.perf_counter() - began


def with_broker(path: Path, workdir: Path, calls: int) -> tuple[float, int, float]:
    from deploy.local.broker import LocalBroker
    from schemas.settings import Settings
    from streams.topics import ensure_topics
    from tests.support.ports import free_port

    broker = LocalBroker(port=free_port(), log_path=workdir / "broker.log")
    broker.start()
    try:
        settings = Settings(kafka_bootstrap=broker.bootstrap, cdr_topic="bench.ingest", partitions=8)
        ensure_topics(settings)
        seconds, records = timed_import(path, KafkaSink(settings))
        other = settings.model_copy(update={"cdr_topic": "bench.alone"})
        ensure_topics(other)
        return seconds, records, ProduceAlone(KafkaSink(other), calls)()
    finally:
        broker.stop()


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="callfloor-bench-ingest-") as tmp:
        path = Path(tmp) / "Master.csv"
        note(f"writing {args.rows:,} rows to {path}")
        calls = write_master_csv(path, args.rows)
        sizes = conditions(rows=args.rows, calls=calls, bytes=path.stat().st_size)

        began = time.perf_counter()
        with open(path, newline="") as handle:
            read = sum(1 for _ in csv.reader(handle))
        baseline_s = time.perf_counter() - began
        baseline = rate(read, baseline_s)
        emit(BENCH, "csv module alone (baseline)", rows_per_s=baseline, seconds=round(baseline_s, 2), **sizes)

        note("mapping without a broker")
        sink = CountingSink()
        seconds, records = timed_import(path, sink)
        mapped = rate(records, seconds)
        emit(BENCH, "map", records_per_s=mapped, calls_produced=sink.calls, rejects=sink.rejects,
             seconds=round(seconds, 2), baseline_rows_per_s=baseline, ratio=ratio(mapped, baseline),
             **sizes)  # fmt: skip
        if args.no_broker:
            return
        note("mapping and producing to a local Tansu broker")
        seconds, records, alone_s = with_broker(path, Path(tmp), calls)
        produced = rate(records, seconds)
        emit(BENCH, "map + produce", records_per_s=produced, seconds=round(seconds, 2),
             baseline_rows_per_s=baseline, ratio=ratio(produced, baseline),
             produce_alone_cdrs_per_s=rate(calls, alone_s), **sizes)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-broker", action="store_true", help="measure mapping only")
    args = parser.parse_args()
    main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
