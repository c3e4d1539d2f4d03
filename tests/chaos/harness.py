"""What the chaos scenarios share: processes to kill, producers, offsets, scrapes, truth.

Everything here talks to the real services the suite starts (Tansu, ``callfloor
clickhouse``, ``callfloor worker``); nothing is mocked.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.request import urlopen
from zoneinfo import ZoneInfo

import orjson
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.broker import wait_for_port
from deploy.local.processes import callfloor_command, spawn, stop
from schemas.cdr import CDR, parse_cdr
from schemas.kpis import COUNTER_NAMES, business_day, contribution, reported_counters
from schemas.rejections import CDRRejected
from schemas.settings import Settings
from sinks.clickhouse.client import connect
from tests.services import ClickHouseProcess, free_port

FIGURES: list[str] = []  # CHAOS lines of this session, printed again in the terminal summary


def chaos_line(scenario: str, **figures: object) -> str:
    """``CHAOS scenario=... key=value ...``: one parseable line per scenario, for the README."""
    line = " ".join([f"CHAOS scenario={scenario}", *(f"{k}={v}" for k, v in figures.items())])
    FIGURES.append(line)
    print(line, flush=True)
    return line


def wait_for(check: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; return that, or fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(every_s)


def wait_equal(
    get: Callable[[], Any], expected: Any, timeout_s: float, what: str, every_s: float = 0.5
) -> None:
    """Poll until ``get()`` equals ``expected``; on timeout show how the last value differed."""
    last: list[Any] = [None]

    def same() -> bool:
        last[0] = get()
        return last[0] == expected

    try:
        wait_for(same, timeout_s, what, every_s)
    except AssertionError as exc:
        if isinstance(expected, Mapping) and isinstance(last[0], Mapping):
            diff = differences(expected, last[0])
            raise AssertionError(f"{exc}; {len(diff)} differ, e.g. {diff[:5]}") from None
        raise AssertionError(f"{exc}; last value {last[0]!r}") from None


# ---------------------------------------------------------------- processes


class ChaosClickHouse(ClickHouseProcess):
    """``callfloor clickhouse`` of a scenario's own: chosen port, env (password), delay."""

    def __init__(
        self, path: Path, log_path: Path, *, port: int | None = None,
        env: Mapping[str, str] | None = None, delay_ms: int = 0,
    ) -> None:  # fmt: skip
        super().__init__(path, log_path)
        self.port = port or self.port
        self.env = dict(env or {})
        self.delay_ms = delay_ms

    def argv(self) -> list[str]:
        base = ["--port", str(self.port), "--path", str(self.path)]
        if not self.delay_ms:
            return callfloor_command("clickhouse", *base)
        if cli_has_delay_flag():
            return callfloor_command("clickhouse", *base, "--delay-ms", str(self.delay_ms))
        # until the CLI has --delay-ms: the same serve() the CLI calls, with the delay
        code = ("import sys; from pathlib import Path; from deploy.local.clickhouse_server import serve; "
                "serve(Path(sys.argv[1]), '127.0.0.1', int(sys.argv[2]), 'default', '', int(sys.argv[3]))")
        return [sys.executable, "-c", code, str(self.path), str(self.port), str(self.delay_ms)]

    def start(self) -> None:
        self.process = spawn(self.argv(), self.env, self.log_path)
        wait_for_port("127.0.0.1", self.port, 60, "embedded ClickHouse")


def cli_has_delay_flag() -> bool:
    from deploy.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return "--delay-ms" in sub.choices["clickhouse"].format_help()


class Worker:
    """One ``callfloor worker`` child process; killable, restartable, measurable."""

    def __init__(self, settings: Settings, log_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.settings, self.log_path = settings, log_path
        self.env = {**settings.to_env(), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def web_port(self) -> int:
        return self.settings.web_port

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Worker:
        self.process = spawn(callfloor_command("worker"), self.env, self.log_path)
        self.starts += 1
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit, no flush."""
        if self.alive():
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        stop(self.process)

    def rss_kib(self) -> int:
        """Resident set size from /proc/<pid>/status (VmRSS, KiB)."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS line")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def assigned(self) -> bool:
        return "live state seeded" in self.log()


@dataclass
class Processes:
    """Everything a scenario started; the fixture stops it all, whatever happened."""

    started: list[Any] = field(default_factory=list)

    def add(self, thing: Any) -> Any:
        self.started.append(thing)
        return thing

    def defer(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` at clean-up (e.g. stop a background producer)."""
        self.started.append(type("Deferred", (), {"stop": staticmethod(fn)})())

    def stop_all(self) -> None:
        for thing in reversed(self.started):
            with contextlib.suppress(Exception):  # clean up the rest regardless
                thing.stop()


# ---------------------------------------------------------------- Kafka


class Sent(NamedTuple):
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int


def producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, client_id="chaos-producer",
        max_request_size=4 * 1024 * 1024,
    )  # fmt: skip


def send_all(bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes | None]]) -> list[Sent]:
    """Produce in order, wait for every ack; return where each message landed."""
    prod = producer(bootstrap)
    try:
        pending = [(key, value, prod.send(topic, key=key, value=value)) for key, value in messages]
        prod.flush()
        sent = []
        for key, value, future in pending:
            meta = future.get(timeout=30)
            sent.append(Sent(key, value, meta.partition, meta.offset))
        return sent
    finally:
        prod.close()


class BackgroundProducer(threading.Thread):
    """Runs ``produce`` in a thread so faults can be injected while CDRs flow."""

    def __init__(self, produce: Callable[[threading.Event], Any]) -> None:
        super().__init__(name="chaos-producer", daemon=True)
        self._produce = produce
        self.stop_event = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._produce(self.stop_event)
        except BaseException as exc:  # noqa: BLE001 - re-raised by outcome()
            self.error = exc

    def outcome(self, timeout_s: float) -> Any:
        self.join(timeout_s)
        if self.is_alive():
            self.stop_event.set()
            raise AssertionError(f"the producer did not finish in {timeout_s:.0f}s")
        if self.error is not None:
            raise self.error
        return self.result


def end_offsets(bootstrap: str, topic: str, timeout_s: float = 30.0) -> dict[int, int]:
    """High watermark per partition, from real fetches (Tansu's ListOffsets is off by a batch)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             max_partition_fetch_bytes=16 * 1024 * 1024)  # fmt: skip
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_end(*partitions)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)
            marks = {tp.partition: consumer.highwater(tp) for tp in partitions}
            if all(m is not None for m in marks.values()):
                return marks
        raise TimeoutError(f"no high watermarks for {topic} in {timeout_s:.0f}s")
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets (next offset to read) per partition of ``topic``."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="chaos-admin")
    try:
        committed = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in committed.items()
            if tp.topic == topic and meta.offset >= 0}  # fmt: skip


def lag(settings: Settings) -> int:
    marks = end_offsets(settings.kafka_bootstrap, settings.cdr_topic)
    done = committed_offsets(settings.kafka_bootstrap, settings.app_id, settings.cdr_topic)
    return sum(mark - done.get(p, 0) for p, mark in marks.items())


def wait_drained(settings: Settings, timeout_s: float, workers: Iterable[Worker] = ()) -> None:
    """Until every offset of the CDR topic is committed; fails at once if a worker died."""
    workers = list(workers)

    def drained() -> bool:
        for worker in workers:
            assert worker.alive(), f"worker exited (code {worker.process.returncode}); log {worker.log_path}"
        return lag(settings) == 0

    wait_for(drained, timeout_s, "the group to commit every offset", every_s=1.0)


def read_topic(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[Any]:
    """Every record of ``topic`` (large records included), all partitions, from the start."""
    marks = end_offsets(bootstrap, topic)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             max_partition_fetch_bytes=16 * 1024 * 1024,
                             fetch_max_bytes=64 * 1024 * 1024)  # fmt: skip
    try:
        partitions = [TopicPartition(topic, p) for p in marks]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < marks[tp.partition] for tp in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end in {timeout_s:.0f}s")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def group_generations(log: str) -> list[int]:
    """Generations the worker joined, from aiokafka's 'Joined group ... (generation N)' lines."""
    return [int(g) for g in re.findall(r"Joined group '[^']*' \(generation (\d+)\)", log)]


# ---------------------------------------------------------------- ClickHouse and reports


def report(settings: Settings, first: str, last: str, by: str = "rep") -> list[dict]:
    """``callfloor report`` as the payroll clerk runs it."""
    done = subprocess.run(
        callfloor_command("report", "--from", first, "--to", last, "--by", by, "--format", "json"),
        env={**settings.to_env(), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return orjson.loads(done.stdout)


def query(settings: Settings, sql: str, parameters: dict | None = None) -> list[tuple]:
    with connect(settings) as client:
        return client.query(sql, parameters=parameters).result_rows


def stored_calls(settings: Settings) -> tuple[int, int]:
    """(distinct calls as payroll counts them, physical rows including replayed copies)."""
    ((final,),) = query(settings, "SELECT count() FROM calls FINAL")
    ((physical,),) = query(settings, "SELECT count() FROM calls")
    return int(final), int(physical)


def written_max_offsets(settings: Settings) -> dict[int, int]:
    rows = query(settings, "SELECT kafka_partition, max(kafka_offset) FROM calls GROUP BY kafka_partition")
    return {int(p): int(o) for p, o in rows}


def keyed(rows: Iterable[Mapping[str, Any]], key: str = "rep_id") -> dict[tuple[str, str], dict]:
    return {(row["business_day"], row[key]): dict(row) for row in rows}


def differences(expected: Mapping, actual: Mapping) -> list[str]:
    """Human-readable differences between two keyed reports (empty when equal)."""
    out = []
    for k in sorted(set(expected) | set(actual)):
        if expected.get(k) != actual.get(k):
            out.append(f"{k}: expected {expected.get(k)} got {actual.get(k)}")
    return out


# ---------------------------------------------------------------- truth for hand-made traffic


@dataclass
class Expected:
    """What hand-made traffic must give: winning version per call, rows per (day, rep)."""

    winners: dict[str, tuple[Sent, CDR]]
    rows: dict[tuple[str, str], dict[str, Any]]
    rejected: list[tuple[Sent, str]]


def expected_from(sent: Iterable[Sent], zone: ZoneInfo, valid_call_seconds: int = 30,
                  now: datetime | None = None) -> Expected:  # fmt: skip
    """The README's rule, applied independently: highest version wins; among equal
    versions, the first received (lowest Kafka offset) wins. Hand-made traffic keeps
    each call_id on one key, so offsets of a call are comparable."""
    winners: dict[str, tuple[Sent, CDR]] = {}
    rejected = []
    for record in sent:
        try:
            cdr = parse_cdr(record.value or b"", now=now)
        except CDRRejected as exc:
            rejected.append((record, exc.reason.value))
            continue
        held = winners.get(cdr.call_id)
        if held is None or (cdr.version, -record.offset) > (held[1].version, -held[0].offset):
            winners[cdr.call_id] = (record, cdr)
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(COUNTER_NAMES))
    teams: dict[tuple[str, str], tuple[datetime, str]] = {}
    for _record, cdr in winners.values():
        key = (business_day(cdr.dialed_at, zone).isoformat(), cdr.rep_id)
        for i, value in enumerate(contribution(cdr, valid_call_seconds).as_tuple()):
            sums[key][i] += value
        if key not in teams or cdr.dialed_at >= teams[key][0]:
            teams[key] = (cdr.dialed_at, cdr.team_id)
    rows = {}
    for (day, rep), counts in sums.items():
        labels = {"business_day": day, "rep_id": rep, "team_id": teams[(day, rep)][1]}
        rows[(day, rep)] = {**labels, **reported_counters(tuple(counts))}
    return Expected(winners, rows, rejected)


def day_span(rows: Mapping[tuple[str, str], Any]) -> tuple[str, str]:
    days = sorted(day for day, _ in rows)
    return days[0], days[-1]


# ---------------------------------------------------------------- /metrics


def scrape(port: int, timeout_s: float = 5.0) -> dict[str, dict[str, float]]:
    """rep -> {metric: value} of ``callfloor_rep_actual{period="day"}`` on a worker's /metrics."""
    with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout_s) as response:
        text = response.read().decode()
    reps: dict[str, dict[str, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        if family.name != "callfloor_rep_actual":
            continue
        for sample in family.samples:
            if sample.labels.get("period") == "day":
                reps[sample.labels["rep"]][sample.labels["metric"]] = sample.value
    return dict(reps)


def try_scrape(port: int) -> dict[str, dict[str, float]] | None:
    try:
        return scrape(port)
    except OSError:
        return None


def as_gauges(row: Mapping[str, Any]) -> dict[str, float]:
    """A report row as /metrics shows it (revenue in currency units, counters as floats)."""
    return {name: float(row[name]) for name in COUNTER_NAMES}


def today_from_clickhouse(settings: Settings, today: str) -> dict[str, dict[str, float]]:
    """rep -> today's values as ClickHouse (calls FINAL) has them."""
    return {rep: as_gauges(row) for (_day, rep), row in keyed(report(settings, today, today)).items()}


def free_ports(n: int) -> list[int]:
    return [free_port() for _ in range(n)]
