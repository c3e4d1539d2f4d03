"""Writes batches of call rows and does not return until ClickHouse has them.

The agent calls :meth:`CallWriter.write` inside its batch body, so Kafka offsets
(acked only when the body returns) can never pass a row ClickHouse has not
acknowledged. While ClickHouse is down the write backs off and retries; the
consumer meanwhile stops fetching once its bounded buffer is full.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from sinks.clickhouse.calls import COLUMNS
from sinks.clickhouse.ddl import CALLS_TABLE, PARTITIONS_TABLE

PARTITION_COLUMNS = ("kafka_partition", "call_id", "business_day")
_PARTITION, _DAY = COLUMNS.index("kafka_partition"), COLUMNS.index("business_day")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Exponential delays between retries, capped; forever unless ``stop`` says otherwise."""

    first: float = 0.2
    factor: float = 2.0
    cap: float = 10.0

    def delays(self) -> Callable[[], float]:
        delay = self.first / self.factor

        def next_delay() -> float:
            nonlocal delay
            delay = min(delay * self.factor, self.cap)
            return delay

        return next_delay


@dataclass
class WriterStats:
    rows_written: int = 0
    batches_written: int = 0
    failures: int = 0
    last_success: float = 0.0
    last_flush_seconds: float = 0.0


class CallWriter:
    def __init__(
        self,
        client_factory: Callable[[], Client],
        backoff: Backoff = Backoff(),
        on_flush: Callable[[int, float], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._client_factory = client_factory
        self._client: Client | None = None
        self._backoff = backoff
        self._on_flush = on_flush
        self._on_failure = on_failure
        self.stats = WriterStats()

    async def write(self, rows: Sequence[tuple[object, ...]]) -> None:
        """Insert ``rows``, retrying with backoff until ClickHouse acknowledges them."""
        if not rows:
            return
        next_delay = self._backoff.delays()
        while True:
            started = time.monotonic()
            try:
                await asyncio.to_thread(self._insert, rows)
            except Exception as exc:  # noqa: BLE001 - any failure means "not written yet"
                self._client = None
                self.stats.failures += 1
                if self._on_failure:
                    self._on_failure(exc)
                delay = next_delay()
                log.warning(
                    "ClickHouse write of %d rows failed (%s); retrying in %.1fs",
                    len(rows), _short(exc), delay,
                )  # fmt: skip
                await asyncio.sleep(delay)
                continue
            elapsed = time.monotonic() - started
            self.stats.rows_written += len(rows)
            self.stats.batches_written += 1
            self.stats.last_success = time.time()
            self.stats.last_flush_seconds = elapsed
            if self._on_flush:
                self._on_flush(len(rows), elapsed)
            return

    def _insert(self, rows: Sequence[tuple[object, ...]]) -> None:
        if self._client is None:
            self._client = self._client_factory()
        self._client.insert(CALLS_TABLE, rows, column_names=COLUMNS)
        homes = {(row[_PARTITION], row[0], row[_DAY]) for row in rows}
        self._client.insert(PARTITIONS_TABLE, list(homes), column_names=PARTITION_COLUMNS)


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 300 else text[:300] + "..."
