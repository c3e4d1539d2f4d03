"""What every pipeline benchmark shares: its own services, producing, waiting, measuring, printing.

A benchmark opens a :class:`Stack` (a Tansu broker and a ``callfloor clickhouse`` child on
free ports, in a temporary directory), produces simulated CDRs with kafka-python
(``simulator.produce``), runs ``callfloor worker`` children configured by
``Settings(...).to_env()``, and waits for a :class:`Drain`: the group's committed offsets
at the topic's high watermarks *and* ClickHouse holding every call. Figures are printed
as JSON lines with the conditions they were measured under.

Everything started is stopped when the ``with`` block ends, also on Ctrl-C, SIGTERM or an
error; the temporary directory (logs, chdb data) is kept and named on stderr after a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from deploy.local.broker import LocalBroker, wait_for_port
from deploy.local.processes import callfloor_command, spawn, stop
from schemas.settings import Settings
from simulator import SimulationSpec, produce
from sinks.clickhouse.client import connect, tables_not_made_yet
from streams.topics import ensure_topics
from tests.support.kafka import GroupOffsets, high_watermarks
from tests.support.ports import free_port
from tests.support.processes import Worker, cpu_seconds, rss_bytes, tree_cpu_seconds

REPO = Path(__file__).resolve().parent.parent
_SITE = f".venv/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages/"


# --- printing -------------------------------------------------------------------------------


@functools.cache
def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name, dist in (("faust", "faust-streaming"), ("chdb", "chdb"), ("aiokafka", "aiokafka"),
                       ("kafka_python", "kafka-python"), ("pydantic", "pydantic"),
                       ("msgspec", "msgspec")):  # fmt: skip
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(dist)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()  # fmt: skip
        found["git"] = rev
    return found


def conditions(**extra: Any) -> dict[str, Any]:
    """What a figure depends on: sizes passed in, plus cores, load and versions."""
    return {**extra, "cores": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2), **versions()}


def emit(bench: str, what: str, **fields: Any) -> dict[str, Any]:
    line = {"bench": bench, "what": what, **fields}
    print(orjson.dumps(line, option=orjson.OPT_NON_STR_KEYS).decode(), flush=True)
    return line


def note(text: str) -> None:
    """Progress for a human, on stderr, so stdout stays JSON lines."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def milliseconds(text: str) -> int:
    """An argparse type: a whole number of milliseconds, 0 or more."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more milliseconds")
    return value


def add_sink_arguments(parser: argparse.ArgumentParser) -> None:
    """``--flush-seconds`` / ``--batch-rows``, read back by :func:`sink_overrides`."""
    fields = Settings.model_fields
    parser.add_argument("--flush-seconds", type=float,
                        help=f"CALLFLOOR_SINK_FLUSH_SECONDS (default {fields['sink_flush_seconds'].default})")
    parser.add_argument("--batch-rows", type=int,
                        help=f"CALLFLOOR_SINK_BATCH_ROWS (default {fields['sink_batch_rows'].default})")


def sink_overrides(args: Any) -> dict[str, Any]:
    """Settings overrides from ``--flush-seconds`` / ``--batch-rows`` when given."""
    given = {"sink_flush_seconds": args.flush_seconds, "sink_batch_rows": args.batch_rows}
    return {k: v for k, v in given.items() if v is not None}


def rate(events: float, seconds: float) -> float | None:
    return round(events / seconds, 1) if seconds > 0 else None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


# --- processes ------------------------------------------------------------------------------


def mib(n: int) -> float:
    return round(n / 2**20, 1)


class RssSampler:
    """Samples VmRSS of some processes every ``every_s`` in a thread; peak from VmHWM."""

    def __init__(self, pids: list[int], every_s: float = 0.5) -> None:
        self.pids, self.every_s = pids, every_s
        self.samples: list[tuple[float, dict[int, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            sample = {}
            for pid in self.pids:
                with contextlib.suppress(OSError, KeyError):
                    sample[pid] = rss_bytes(pid)
            self.samples.append((time.monotonic(), sample))
            self._stop.wait(self.every_s)

    def peak_sampled(self, pid: int) -> int:
        return max((s.get(pid, 0) for _, s in self.samples), default=0)


def main_guard(run: Callable[[], None]) -> None:
    """Run a benchmark; on Ctrl-C or SIGTERM exit 130 without a traceback (children are stopped)."""
    try:
        run()
    except KeyboardInterrupt:
        note("interrupted")
        raise SystemExit(130) from None


def on_signals_raise() -> None:
    """Ctrl-C, SIGTERM and SIGHUP end the run with KeyboardInterrupt, so every ``finally`` stops
    its children (SIGINT too: a shell starts background jobs with it ignored)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


class Stack:
    """A broker and an embedded ClickHouse of this run's own, and the children started on them."""

    def __init__(self, name: str, partitions: int = 8) -> None:
        self.name, self.partitions = name, partitions
        self.dir = Path(tempfile.mkdtemp(prefix=f"callfloor-bench-{name}-"))
        self.broker = LocalBroker(port=free_port(), log_path=self.dir / "broker.log")
        self.clickhouse_port = free_port()
        self.clickhouse: subprocess.Popen[bytes] | None = None
        self.children: list[Worker] = []
        self._clients: list[Client] = []
        self._n = 0

    def __enter__(self) -> Stack:
        on_signals_raise()
        try:
            self.broker.start()
            argv = callfloor_command("clickhouse", "--port", str(self.clickhouse_port),
                                     "--path", str(self.dir / "chdata"))  # fmt: skip
            # the token lands in self.dir, where settings() points every client
            self.clickhouse = spawn(argv, {"CALLFLOOR_DATA_DIR": str(self.dir)}, self.dir / "clickhouse.log")
            wait_for_port("127.0.0.1", self.clickhouse_port, 60, "embedded ClickHouse")
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.close()
        for child in reversed(self.children):
            child.stop()
        stop(self.clickhouse)
        self.broker.stop()
        if exc_type is None and not os.environ.get("CALLFLOOR_BENCH_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            note(f"run failed or was interrupted; logs and data kept in {self.dir}")

    @property
    def clickhouse_url(self) -> str:
        return f"http://127.0.0.1:{self.clickhouse_port}"

    def settings(self, label: str, **overrides: Any) -> Settings:
        """Settings with a group, database and web port of their own; topic ``bench.cdr`` by default."""
        self._n += 1
        values: dict[str, Any] = {
            "kafka_bootstrap": self.broker.bootstrap, "clickhouse_url": self.clickhouse_url,
            "cdr_topic": "bench.cdr", "app_id": f"bench-{label}-{self._n}",
            "clickhouse_database": f"bench_{label}_{self._n}".replace("-", "_"),
            "partitions": self.partitions, "web_port": free_port(), "data_dir": self.dir,
        }  # fmt: skip
        return Settings(**{**values, **overrides})

    def client(self) -> Client:
        """A clickhouse-connect client to this run's ClickHouse, closed with the stack."""
        client = connect(self.settings("reader"), database="")
        self._clients.append(client)
        return client

    def start(self, name: str, argv: list[str], settings: Settings) -> Worker:
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        env = {"PYTHONPATH": path}  # benchmarks/ is not an installed package
        worker = Worker(settings, self.dir / f"{name}.log", argv=argv, env=env, name=name).start()
        self.children.append(worker)
        return worker

    def worker(self, settings: Settings, name: str = "worker", loglevel: str = "warning") -> Worker:
        """``callfloor worker`` as a user runs it."""
        return self.start(name, callfloor_command("worker", "--loglevel", loglevel), settings)

    def stop(self, worker: Worker) -> None:
        worker.stop()
        self.children.remove(worker)


# --- Kafka ----------------------------------------------------------------------------------


@dataclass
class Produced:
    topic: str
    events: int
    seconds: float
    high_watermarks: dict[int, int]

    @property
    def events_per_s(self) -> float | None:
        return rate(self.events, self.seconds)


def produce_spec(settings: Settings, spec: SimulationSpec) -> Produced:
    """Create the topic (``settings.partitions``) and send ``spec`` to it; all acknowledged."""
    ensure_topics(settings)
    note(f"producing {spec.calls:,} CDRs ({spec.reps:,} reps) to {settings.cdr_topic}")
    started = time.perf_counter()
    truth = produce(spec, settings)
    seconds = time.perf_counter() - started
    if not truth.complete:
        raise KeyboardInterrupt("producing was interrupted")
    marks = high_watermarks(settings.kafka_bootstrap, settings.cdr_topic)
    if sum(marks.values()) != truth.produced:
        raise RuntimeError(f"topic holds {sum(marks.values())} records, {truth.produced} were produced")
    note(f"produced {truth.produced:,} in {seconds:.1f}s")
    return Produced(settings.cdr_topic, truth.produced, seconds, marks)


# --- draining -------------------------------------------------------------------------------


@dataclass
class Drain:
    """How a group drained a topic: rows in ClickHouse over time, when offsets were committed,
    and the CPU the workers, ClickHouse and the broker used between the first and last row."""

    events: int
    series: list[tuple[float, int]] = field(default_factory=list)  # (seconds since spawn, rows)
    first_row_s: float | None = None
    all_rows_s: float | None = None
    committed_s: float | None = None
    cpu_at_first: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds
    cpu_at_all: dict[str, float] = field(default_factory=dict)

    @property
    def rows_at_first(self) -> int:
        return next(n for _, n in self.series if n > 0)

    def time_at(self, rows: float) -> float:
        """When ``rows`` rows were reached, interpolated between samples."""
        before = (0.0, 0)
        for t, n in self.series:
            if n >= rows:
                t0, n0 = before
                return t0 + (t - t0) * (rows - n0) / max(1, n - n0)
            before = (t, n)
        raise ValueError(f"{rows} rows never reached")

    def figures(self) -> dict[str, Any]:
        """events/s from the first written batch to the last row (start-up excluded), the
        same between 10 % and 90 % of the rows (steady state), wall times, and CPU seconds
        per process over the first-to-last-row window."""
        assert self.first_row_s is not None and self.all_rows_s is not None
        events = self.events - self.rows_at_first
        steady = self.time_at(0.9 * self.events) - self.time_at(0.1 * self.events)
        cpu = {name: self.cpu_at_all[name] - self.cpu_at_first.get(name, 0.0) for name in self.cpu_at_all}
        workers = sum(v for k, v in cpu.items() if k not in ("clickhouse", "broker"))
        return {
            "events_per_s": rate(events, self.all_rows_s - self.first_row_s),
            "steady_events_per_s": rate(0.8 * self.events, steady),
            "first_row_s": round(self.first_row_s, 2), "all_rows_s": round(self.all_rows_s, 2),
            "committed_s": None if self.committed_s is None else round(self.committed_s, 2),
            "events_per_worker_cpu_s": rate(events, workers),
            "cpu_s": {name: round(v, 2) for name, v in cpu.items()},
        }  # fmt: skip

    def deciles(self) -> list[float | None]:
        """events/s in each tenth of the rows: does the pace change as state grows?"""
        marks = [self.time_at(self.events * k / 10) if k else self.first_row_s or 0.0 for k in range(11)]
        return [rate(self.events / 10, b - a) for a, b in zip(marks, marks[1:], strict=False)]


def _cpu_snapshot(stack: Stack, workers: list[Worker]) -> dict[str, float]:
    pids = {w.name: w.pid for w in workers}
    pids["clickhouse"] = stack.clickhouse.pid if stack.clickhouse else 0
    pids["broker"] = stack.broker.process.pid if stack.broker.process else 0
    found = {}
    for name, pid in pids.items():
        with contextlib.suppress(OSError):  # ClickHouse: the front and its engine process
            found[name] = tree_cpu_seconds(pid) if name == "clickhouse" else cpu_seconds(pid)
    return found


def wait_drained(
    stack: Stack,
    workers: list[Worker],
    produced: Produced,
    table: str,
    *,
    timeout_s: float = 1800.0,
    stall_s: float = 120.0,
    every_s: float = 0.25,
) -> Drain:
    """Block until ClickHouse ``table`` has ``produced.events`` rows and the group of ``workers``
    has committed every offset; times are from the first worker's spawn. Raises when nothing
    moves for ``stall_s`` (a crashed agent that Faust keeps restarting, say)."""
    group = workers[0].settings.app_id
    started = min(w.started for w in workers)
    drain = Drain(produced.events)
    client = stack.client()
    offsets = GroupOffsets(stack.broker.bootstrap)
    deadline = time.monotonic() + timeout_s
    last_offsets_check, last_note, last_progress = 0.0, 0.0, (time.monotonic(), -1)
    try:
        while drain.committed_s is None or drain.all_rows_s is None:
            for worker in workers:
                worker.check_alive()
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"{group}: not drained in {timeout_s:.0f}s; {stack.dir}")
            if drain.all_rows_s is None:
                rows = count_rows(client, table)
                t = time.monotonic() - started
                drain.series.append((t, rows))
                if rows and drain.first_row_s is None:
                    drain.first_row_s, drain.cpu_at_first = t, _cpu_snapshot(stack, workers)
                if rows >= produced.events:
                    drain.all_rows_s, drain.cpu_at_all = t, _cpu_snapshot(stack, workers)
                if rows != last_progress[1]:
                    last_progress = (now, rows)
                elif now - last_progress[0] > stall_s:
                    raise TimeoutError(f"{group}: stuck at {rows:,} rows for {stall_s:.0f}s; {stack.dir}")
            if drain.committed_s is None and now - last_offsets_check >= 0.5:
                last_offsets_check = now
                committed = offsets.committed(group, produced.topic)
                if all(committed.get(p, 0) >= mark for p, mark in produced.high_watermarks.items()):
                    drain.committed_s = time.monotonic() - started
            if now - last_note > 15 and drain.series:
                last_note = now
                t, rows = drain.series[-1]
                note(f"{group}: {rows:,}/{produced.events:,} rows after {t:.0f}s")
            time.sleep(every_s)
    finally:
        offsets.close()
    return drain


def count_rows(client: Client, table: str) -> int:
    """Rows in ``table``; 0 while it is not created yet."""
    try:
        return int(client.command(f"SELECT count() FROM {table}"))
    except DatabaseError as exc:
        if tables_not_made_yet(exc):
            return 0
        raise


def distinct_calls(stack: Stack, table: str) -> int:
    return int(stack.client().command(f"SELECT uniqExact(call_id) FROM {table}"))


def wait_assigned(workers: list[Worker], partitions: int, timeout_s: float = 120.0) -> float:
    """Until the workers report lag for disjoint partitions covering all of them; seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        for worker in workers:
            worker.check_alive()
        held = [w.assigned_partitions() for w in workers]
        if all(held) and sum(map(len, held)) == partitions and set().union(*held) == set(range(partitions)):
            return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError(f"partitions not assigned to {[w.name for w in workers]} in {timeout_s:.0f}s")


# --- profiling ------------------------------------------------------------------------------


@contextlib.contextmanager
def py_spy(pid: int, raw_path: Path | None, rate_hz: int = 100) -> Iterator[None]:
    """``py-spy record`` of ``pid`` while the block runs (collapsed stacks in ``raw_path``)."""
    if raw_path is None:
        yield
        return
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    argv = [binary, "record", "--pid", str(pid), "--rate", str(rate_hz), "--format", "raw",
            "--output", str(raw_path), "--nonblocking"]  # fmt: skip
    recorder = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            recorder.wait(timeout=60)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait()


_WRAPPERS = ("<frozen ", "asyncio/", "threading.py", "mode/", "deploy/cli.py", "streams/worker.py",
             "concurrent/futures/", "selectors.py", "faust/agents/agent.py")  # fmt: skip


def profile_summary(raw_path: Path, top: int = 20) -> dict[str, Any]:
    """From py-spy's collapsed stacks: the top functions by own time, and by total time leaving
    out the event loop, threads and start-up frames that every sample passes through."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    for line in raw_path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [re.sub(r":\d+\)$", ")", f.replace(str(REPO) + "/", "").replace(_SITE, ""))
                  for f in stack.split(";")]  # fmt: skip
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + n

    def ranked(counts: dict[str, int]) -> list[list[Any]]:
        best = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
        return [[round(100 * n / samples, 1), frame] for frame, n in best]

    inner = {f: n for f, n in total.items() if not any(w in f for w in _WRAPPERS)}
    return {"samples": samples, "own_pct": ranked(own), "total_pct": ranked(inner)}
