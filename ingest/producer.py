"""Where mapped calls and rejects go: the CDR topic and its DLQ (kafka-python), or stdout.

Calls are keyed by ``rep_id`` like every producer of the topic. A reject goes to the DLQ
with the original record's bytes and the dead-letter headers the worker uses (``reason``,
``detail``) plus where it came from (``source_file``, ``source_line``, ``source_format``),
so a clerk can find the row.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from schemas.rejections import why_headers
from schemas.settings import Settings

if TYPE_CHECKING:
    from kafka.future import Future
    from kafka.producer.future import FutureRecordMetadata


def dead_letter_headers(
    reason: str, detail: str, origin: str, line: int, fmt: str
) -> list[tuple[str, bytes]]:
    return [
        *why_headers(reason, detail),
        ("source_file", origin.encode("utf-8", "replace")),
        ("source_line", str(line).encode()),
        ("source_format", fmt.encode()),
    ]


class Sink(Protocol):
    # kafka-python's future of the record (what a live feed waits on); None when nothing is sent
    def call(self, rep_id: str, value: bytes) -> Future | None: ...
    def dead_letter(self, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> Future | None: ...
    def flush(self) -> None: ...
    def close(self) -> list[BaseException]: ...


class KafkaSink:
    """Produces with acks=all; :meth:`close` waits for every ack and returns the failures.

    :meth:`call` and :meth:`dead_letter` return kafka-python's future of the record, which a
    live feed waits on before it acknowledges its dialer (``ingest.live``). A live feed passes
    its own ``options`` (``ingest.live.LIVE_PRODUCER``): a file import favours batches and
    patience, a pushed CDR its latency and a prompt "not stored".
    """

    def __init__(self, settings: Settings, **options: int) -> None:
        from kafka import KafkaProducer

        from streams.kafka_config import kafka_python_config

        self.topic, self.dlq = settings.cdr_topic, settings.dlq_topic
        self.failures: list[BaseException] = []
        tuning: dict[str, Any] = {"linger_ms": 200, "batch_size": 256 * 1024, "max_request_size": 4 << 20}
        self.producer = KafkaProducer(
            **kafka_python_config(settings), client_id="callfloor-ingest", acks="all", **{**tuning, **options}
        )  # fmt: skip

    def call(self, rep_id: str, value: bytes) -> FutureRecordMetadata:
        future = self.producer.send(self.topic, key=rep_id.encode(), value=value)
        return future.add_errback(self.failures.append)

    def dead_letter(self, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> FutureRecordMetadata:
        future = self.producer.send(self.dlq, key=key.encode(), value=value, headers=headers)
        return future.add_errback(self.failures.append)

    def flush(self) -> None:
        self.producer.flush()

    def close(self) -> list[BaseException]:
        try:
            self.producer.flush()
        finally:
            self.producer.close()
        return self.failures


class PrintSink:
    """``--dry-run``: CDRs as JSON lines on stdout, nothing produced (rejects are still reported)."""

    def __init__(self, out: BinaryIO | None = None) -> None:
        self.out = out or sys.stdout.buffer

    def call(self, rep_id: str, value: bytes) -> None:
        self.out.write(value + b"\n")

    def dead_letter(self, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        return None

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> list[BaseException]:
        self.out.flush()
        return []
