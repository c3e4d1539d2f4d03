"""Reading topics and group offsets with kafka-python (assigned partitions only: Tansu
does not serve kafka-python's group consumer).

End offsets come from the high watermark of real fetches, not ListOffsets: Tansu
0.6 answers ListOffsets(latest) with the base offset of the last record batch.
"""

from __future__ import annotations

import time

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord


def _consume(bootstrap: str, topic: str, timeout_s: float) -> tuple[list[ConsumerRecord], dict]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
            marks = {tp: consumer.highwater(tp) for tp in partitions}
            if all(m is not None and consumer.position(tp) >= m for tp, m in marks.items()):
                return records, marks
        raise TimeoutError(f"could not read {topic} to its end in {timeout_s:.0f}s")
    finally:
        consumer.close()


def read_all(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[ConsumerRecord]:
    """Every record currently in ``topic``, all partitions, from the beginning."""
    return _consume(bootstrap, topic, timeout_s)[0]


def lag(bootstrap: str, group: str, topic: str) -> int:
    """Messages in ``topic`` that ``group`` has not committed yet."""
    _, marks = _consume(bootstrap, topic, 30.0)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return sum(mark - (committed[tp].offset if tp in committed else 0) for tp, mark in marks.items())
