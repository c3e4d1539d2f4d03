"""What the embedded broker's CPU follows: how often the producer sends a batch.

Tansu 0.6.0's memory engine keeps each produced batch as one object and lists a partition's
objects on each fetch, so its CPU grows with the batches stored, not the records. For each
producer linger (``--linger-ms``, the first is the baseline: 20 ms, as the simulated
dialer), a broker of its own, one topic and one reader (kafka-python, assigned, fetch wait
100 ms as the worker's): records produced at ``--rate`` for ``--seconds``; the broker's CPU
over the run and over its first and last third (does it grow?), and the reader's latency
from send to receipt (the linger included).

    .venv/bin/python -m benchmarks.broker_cost --rate 2000 --seconds 20
"""

from __future__ import annotations

import argparse
import threading
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from benchmarks.harness import conditions, emit, main_guard, milliseconds, note
from benchmarks.latency import percentiles
from deploy.local.broker import LocalBroker
from schemas.settings import Settings
from simulator.traffic import PRODUCER_LINGER_MS
from streams.kafka_config import kafka_python_config
from tests.support.ports import free_port
from tests.support.processes import cpu_seconds

TOPIC = "cost"
VALUE = b'{"cdr":"' + b"x" * 560 + b'"}'  # about a CDR's size


class Reader(threading.Thread):
    """Every partition of the topic, from the start; send -> receipt per record."""

    def __init__(self, settings: Settings, partitions: int) -> None:
        super().__init__(name="reader", daemon=True)
        self.settings, self.partitions = settings, partitions
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        consumer = KafkaConsumer(**kafka_python_config(self.settings), fetch_max_wait_ms=100)
        tps = [TopicPartition(TOPIC, p) for p in range(self.partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        try:
            while not self.stop.is_set():
                for records in consumer.poll(200).values():
                    now = time.time()
                    self.latencies.extend(now - record.timestamp / 1000 for record in records)
        finally:
            consumer.close()


def measure(args: argparse.Namespace, linger_ms: int) -> dict:
    broker = LocalBroker(port=free_port())
    broker.start()
    try:
        settings = Settings(kafka_bootstrap=broker.bootstrap)
        admin = KafkaAdminClient(**kafka_python_config(settings))
        admin.create_topics([NewTopic(TOPIC, args.partitions, 1)])
        admin.close()
        reader = Reader(settings, args.partitions)
        reader.start()
        producer = KafkaProducer(**kafka_python_config(settings), acks="all", linger_ms=linger_ms)
        pid = broker.process.pid if broker.process else 0
        thirds = [cpu_seconds(pid)]
        started, sent = time.monotonic(), 0
        while (elapsed := time.monotonic() - started) < args.seconds:
            for _ in range(min(int(elapsed * args.rate) + 1, int(args.seconds * args.rate)) - sent):
                producer.send(TOPIC, key=str(sent % 100).encode(), value=VALUE)
                sent += 1
            if len(thirds) < 3 and elapsed >= args.seconds * len(thirds) / 3:
                thirds.append(cpu_seconds(pid))
            time.sleep(0.002)
        producer.flush()
        thirds.append(cpu_seconds(pid))
        per_request = producer.metrics()["producer-metrics"].get("records-per-request-avg")
        producer.close()
        time.sleep(0.5)
        reader.stop.set()
        reader.join(10)
        third = args.seconds / 3
        return {
            "broker_cpu_percent": round(100 * (thirds[-1] - thirds[0]) / args.seconds, 1),
            "first_third_cpu_percent": round(100 * (thirds[1] - thirds[0]) / third, 1),
            "last_third_cpu_percent": round(100 * (thirds[3] - thirds[2]) / third, 1),
            "records_per_request": round(per_request, 1) if per_request else None,
            "sent": sent,
            "reader": percentiles(reader.latencies),
        }
    finally:
        broker.stop()


def run(args: argparse.Namespace) -> None:
    cond = conditions(rate=args.rate, seconds=args.seconds, partitions=args.partitions, readers=1)
    for i, linger in enumerate(args.linger_ms):
        note(f"linger {linger} ms: {args.rate:g} records/s for {args.seconds:g}s")
        figures = measure(args, linger)
        reader = figures.pop("reader")
        what = "baseline: " if i == 0 else ""
        emit("broker_cost", f"{what}producer lingering {linger} ms", linger_ms=linger, **figures,
             reader_p50_s=reader.get("p50_s"), reader_p99_s=reader.get("p99_s"), **cond)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2000.0, help="records per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each linger produces")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--linger-ms", type=milliseconds, nargs="+", default=[PRODUCER_LINGER_MS, 5],
                        help="producer lingers to compare; the first is the baseline")
    args = parser.parse_args()
    if args.seconds <= 0 or args.rate <= 0:
        parser.error("--rate and --seconds must be positive")
    main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
