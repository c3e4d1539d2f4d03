"""Producing to and reading topics and group offsets with kafka-python.

Reads use assigned partitions only: Tansu does not serve kafka-python's group consumer.
End offsets come from the high watermark of real fetches, not ListOffsets: Tansu 0.6
answers ListOffsets(latest) with the base offset of the last record batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, NamedTuple

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

_BIG_FETCH = {"max_partition_fetch_bytes": 16 * 1024 * 1024, "fetch_max_bytes": 64 * 1024 * 1024}


class Sent(NamedTuple):
    """Where one produced message landed."""

    key: bytes | None
    value: bytes | None
    partition: int
    offset: int


def producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, client_id="callfloor-tests",
        max_request_size=4 * 1024 * 1024,
    )  # fmt: skip


def send_all(bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes | None]]) -> list[Sent]:
    """Produce in order, wait for every ack; return where each message landed."""
    prod = producer(bootstrap)
    try:
        pending = [(key, value, prod.send(topic, key=key, value=value)) for key, value in messages]
        prod.flush()
        return [Sent(key, value, (m := future.get(timeout=30)).partition, m.offset)
                for key, value, future in pending]  # fmt: skip
    finally:
        prod.close()


def high_watermarks(bootstrap: str, topic: str, timeout_s: float = 30.0) -> dict[int, int]:
    """partition -> high watermark: seek to ListOffsets' answer and fetch, since the fetch
    response carries the true high watermark."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, check_crcs=False,
                             **_BIG_FETCH)  # fmt: skip
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            raise RuntimeError(f"topic {topic} has no partitions")
        consumer.assign(partitions)
        for tp, offset in consumer.end_offsets(partitions).items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout_s
        while any(consumer.highwater(tp) is None for tp in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no high watermarks for {topic} in {timeout_s:.0f}s")
            consumer.poll(timeout_ms=200)
        return {tp.partition: consumer.highwater(tp) for tp in partitions}
    finally:
        consumer.close()


class GroupOffsets:
    """Committed offsets of consumer groups, through one admin client (for polling loops)."""

    def __init__(self, bootstrap: str) -> None:
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="callfloor-tests")

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """The group's committed offsets (next offset to read) per partition of ``topic``."""
        found = self.admin.list_group_offsets(group).get(group, {})
        return {tp.partition: meta.offset for tp, meta in found.items()
                if tp.topic == topic and meta.offset >= 0}  # fmt: skip

    def close(self) -> None:
        self.admin.close()


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    offsets = GroupOffsets(bootstrap)
    try:
        return offsets.committed(group, topic)
    finally:
        offsets.close()


def lag_by_partition(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """Per partition of ``topic``: messages ``group`` has not committed yet."""
    marks = high_watermarks(bootstrap, topic)
    done = committed_offsets(bootstrap, group, topic)
    return {p: mark - done.get(p, 0) for p, mark in marks.items()}


def lag(bootstrap: str, group: str, topic: str) -> int:
    """Messages in ``topic`` that ``group`` has not committed yet."""
    return sum(lag_by_partition(bootstrap, group, topic).values())


def read_topic(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[Any]:
    """Every record of ``topic`` (large records included), all partitions, from the start."""
    marks = high_watermarks(bootstrap, topic)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **_BIG_FETCH)
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
