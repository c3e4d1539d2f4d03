"""How long from a CDR being produced to it showing on /metrics and in ClickHouse?

A paced kafka-python producer sends live simulated CDRs at a steady rate (2,000/s by
default) to a worker that is already running with its partitions assigned, and notes each
call's send time. Per call:
- /metrics: a rep's calls are in one partition, in order, so the k-th outbound call of a
  rep is visible at the first scrape (every ``--scrape-every`` s) whose
  ``callfloor_rep_actual{metric="dials",period="day"}`` for that rep is >= k;
- ClickHouse: ``calls.ingested_at`` (stamped by the ClickHouse server at insert) of its row.
Baseline in the same run: the broker alone, a kafka-python consumer assigned to every
partition noting when each call arrives (the floor any consumer starts from).
Prints p50 / p99 / max seconds per path as JSON lines.

    .venv/bin/python -m benchmarks.latency --rate 2000 --seconds 30
"""

from __future__ import annotations

import argparse
import itertools
import re
import threading
import time
from collections import defaultdict

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from benchmarks.harness import (
    Stack,
    add_sink_arguments,
    conditions,
    emit,
    main_guard,
    milliseconds,
    note,
    sink_overrides,
    wait_assigned,
)
from schemas.settings import Settings
from simulator import SimulationSpec, generate
from simulator.model import daytime_zone
from simulator.traffic import PRODUCER_LINGER_MS
from streams.kafka_config import kafka_python_config
from streams.topics import ensure_topics
from tests.support.scrape import metrics_text
from tests.support.waiting import wait_for

_DIALS = re.compile(r'^callfloor_rep_actual\{(?=[^}]*metric="dials")(?=[^}]*period="day")[^}]*'
                    r'rep="([^"]+)"[^}]*\} (\S+)$', re.M)  # fmt: skip


def percentiles(latencies: list[float]) -> dict[str, float | int | None]:
    if not latencies:
        return {"n": 0, "p50_s": None, "p99_s": None, "max_s": None, "mean_s": None}
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)

    return {"n": len(ordered), "p50_s": at(0.5), "p99_s": at(0.99), "max_s": round(ordered[-1], 4),
            "mean_s": round(sum(ordered) / len(ordered), 4)}  # fmt: skip


class Background(threading.Thread):
    """A daemon loop that runs ``step`` until stopped; errors end the run, not the thread silently."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def step(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.step()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc

    def finish(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
        if self.error:
            raise RuntimeError(f"{self.name} failed") from self.error


class MetricsWatcher(Background):
    """Scrapes /metrics every ``every_s``: per rep, (scrape end time, dials today)."""

    def __init__(self, port: int, every_s: float) -> None:
        super().__init__("metrics-watcher")
        self.port, self.every_s = port, every_s
        self.seen: dict[str, list[tuple[float, int]]] = defaultdict(list)
        self.scrapes, self.scrape_seconds = 0, 0.0

    def step(self) -> None:
        started = time.time()
        text = metrics_text(self.port) or ""
        ended = time.time()
        self.scrapes += 1
        self.scrape_seconds += ended - started
        for rep, value in _DIALS.findall(text):
            dials = int(float(value))
            history = self.seen[rep]
            if not history or history[-1][1] != dials:
                history.append((ended, dials))
        self.stopping.wait(max(0.0, self.every_s - (time.time() - started)))

    def total(self) -> int:
        return sum(h[-1][1] for h in self.seen.values() if h)


class FloorConsumer(Background):
    """The broker alone: when each call_id reaches a plain assigned consumer."""

    def __init__(self, settings: Settings, topic: str) -> None:
        super().__init__("floor-consumer")
        self.consumer = KafkaConsumer(**kafka_python_config(settings), enable_auto_commit=False,
                                      check_crcs=False, fetch_max_wait_ms=100)  # fmt: skip
        partitions = [TopicPartition(topic, p) for p in self.consumer.partitions_for_topic(topic) or ()]
        self.consumer.assign(partitions)
        self.consumer.seek_to_beginning(*partitions)
        self.received: dict[str, float] = {}

    def step(self) -> None:
        for records in self.consumer.poll(timeout_ms=100).values():
            now = time.time()
            for record in records:
                self.received[orjson.loads(record.value)["call_id"]] = now

    def finish(self) -> None:
        super().finish()
        self.consumer.close()


Prepared = list[tuple[bytes | None, bytes, str, str, bool]]  # key, value, call_id, rep_id, outbound


def simulate(spec: SimulationSpec, seconds: float) -> Prepared:
    """The live CDRs of ``seconds`` at ``spec.rate``, made before the clock starts (the
    simulator fixes their times when it starts anyway): while a benchmark measures, its
    process only sends, since it shares the cores with what it measures."""
    prepared = []
    for event in itertools.islice(generate(spec), int(seconds * spec.rate) + 1):
        cdr = orjson.loads(event.value)
        outbound = cdr["direction"] == "outbound"
        prepared.append((event.key, event.value, cdr["call_id"], cdr["rep_id"], outbound))
    return prepared


def produce_paced(
    settings: Settings, topic: str, prepared: Prepared, rate: float, linger_ms: int = PRODUCER_LINGER_MS
) -> list[tuple]:
    """Send ``prepared`` at ``rate`` a second; (call_id, rep_id, outbound, sent_at) each. The
    time is taken before ``send``: the producer's linger counts in every latency measured."""
    producer = KafkaProducer(
        **kafka_python_config(settings), acks="all", linger_ms=linger_ms, client_id="bench-latency"
    )
    sent: list[tuple[str, str, bool, float]] = []
    started = time.monotonic()
    try:
        while len(sent) < len(prepared):
            due = min(int((time.monotonic() - started) * rate) + 1, len(prepared)) - len(sent)
            for key, value, call_id, rep_id, outbound in prepared[len(sent) : len(sent) + due]:
                at = time.time()
                producer.send(topic, key=key, value=value)
                sent.append((call_id, rep_id, outbound, at))
            time.sleep(0.002)
        producer.flush()
    finally:
        producer.close()
    return sent


def metrics_latencies(sent: list[tuple], seen: dict[str, list[tuple[float, int]]], after: float) -> list:
    """The k-th outbound call of a rep is visible at the first scrape showing >= k dials
    (k counts every call sent; only those sent at ``after`` or later are kept)."""
    by_rep: dict[str, list[float]] = defaultdict(list)
    for _call_id, rep, outbound, at in sent:
        if outbound:
            by_rep[rep].append(at)
    latencies = []
    for rep, sends in by_rep.items():
        history = iter(seen.get(rep, []))
        visible_at, count = 0.0, 0
        for k, at in enumerate(sends, start=1):
            while count < k:
                visible_at, count = next(history, (float("nan"), 1 << 62))
            if at >= after:
                latencies.append(visible_at - at)
    return latencies


def run(args: argparse.Namespace) -> None:
    # today's /metrics numbers are compared: run where it is mid-afternoon, not past midnight
    zone = daytime_zone()
    spec = SimulationSpec(reps=args.reps, calls=0, live=True, rate=args.rate, seed=args.seed, timezone=zone)
    with Stack("latency", partitions=args.partitions) as stack:
        settings = stack.settings("latency", timezone=zone, **sink_overrides(args))
        ensure_topics(settings)
        worker = stack.worker(settings)
        waited = wait_assigned([worker], args.partitions)
        note(f"worker holds all {args.partitions} partitions after {waited:.1f}s; producing "
             f"{args.rate:g} CDR/s for {args.seconds:g}s")  # fmt: skip
        watcher = MetricsWatcher(settings.web_port, args.scrape_every)
        floor = FloorConsumer(settings, settings.cdr_topic)
        watcher.start()
        floor.start()
        try:
            started = time.monotonic()
            prepared = simulate(spec, args.seconds)
            sent = produce_paced(settings, settings.cdr_topic, prepared, spec.rate, args.linger_ms)
            produce_seconds = time.monotonic() - started
            outbound = sum(1 for s in sent if s[2])
            client = stack.client()
            table = f"{settings.clickhouse_database}.calls"

            def progress() -> str:
                stored = int(client.command(f"SELECT count() FROM {table}"))
                return (f"/metrics dials {watcher.total():,}/{outbound:,}, "
                        f"ClickHouse {stored:,}/{len(sent):,}, "
                        f"floor consumer {len(floor.received):,}/{len(sent):,}")  # fmt: skip

            wait_for(lambda: watcher.total() >= outbound and len(floor.received) >= len(sent)
                     and int(client.command(f"SELECT count() FROM {table}")) >= len(sent),
                     120, "every call on /metrics, in ClickHouse and at the floor consumer",
                     progress=progress)  # fmt: skip
        finally:
            watcher.finish()
            floor.finish()
        worker.check_alive()

        rows = client.query(f"SELECT call_id, toUnixTimestamp64Milli(ingested_at) FROM {table}").result_rows
        ingested = {call_id: ms / 1000 for call_id, ms in rows}
        after = sent[0][3] + args.warmup
        measured = [s for s in sent if s[3] >= after]
        cond = conditions(rate=args.rate, achieved_rate=round(len(sent) / produce_seconds, 1),
                          seconds=args.seconds, warmup_s=args.warmup, events=len(measured),
                          linger_ms=args.linger_ms,
                          partitions=args.partitions, reps=args.reps, scrape_every_s=args.scrape_every,
                          mean_scrape_s=round(watcher.scrape_seconds / max(1, watcher.scrapes), 4),
                          batch_rows=settings.sink_batch_rows,
                          flush_seconds=settings.sink_flush_seconds)  # fmt: skip
        emit("latency", "produce -> /metrics (rep dials)",
             **percentiles(metrics_latencies(sent, watcher.seen, after)), **cond)  # fmt: skip
        emit("latency", "produce -> ClickHouse (calls.ingested_at)",
             **percentiles([ingested[c] - at for c, *_, at in measured]), **cond)  # fmt: skip
        emit("latency", "baseline: produce -> plain kafka-python consumer (broker floor)",
             **percentiles([floor.received[c] - at for c, *_, at in measured]), **cond)  # fmt: skip


def add_latency_arguments(parser: argparse.ArgumentParser, seconds_help: str) -> None:
    """The flags every produce -> visible benchmark takes."""
    parser.add_argument("--rate", type=float, default=2000.0, help="CDRs per second")
    parser.add_argument("--seconds", type=float, default=30.0, help=seconds_help)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of calls left out of the figures")
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--scrape-every", type=float, default=0.1, help="seconds between /metrics scrapes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--linger-ms", type=milliseconds, default=PRODUCER_LINGER_MS,
                        help=f"the producer's linger, counted in the latency (default {PRODUCER_LINGER_MS}, "
                             "as the simulated dialer)")  # fmt: skip
    add_sink_arguments(parser)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_latency_arguments(parser, "how long to produce")
    args = parser.parse_args()
    main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
