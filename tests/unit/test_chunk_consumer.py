"""The chunk consumer's ack bookkeeping: what Faust will commit after a chunk is acked.

A consumer object is built without connecting to anything; only its offset accounting
(Faust's own ``_new_offset``) is exercised.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

import pytest
from aiokafka.errors import IllegalStateError
from faust.types import TP

from streams.faust_internals import BatchingApp, BatchingConsumer, ChunkMessage

TOPIC = "cdrs"
TPX = TP(TOPIC, 3)


class KafkaRecord(NamedTuple):
    """The fields of an aiokafka ConsumerRecord that a chunk reads."""

    offset: int
    partition: int = TPX.partition
    key: bytes | None = b"rep"
    value: bytes | None = b"{}"
    timestamp: int | None = 1_700_000_000_000
    timestamp_type: int = 0


@pytest.fixture
def consumer() -> BatchingConsumer:
    app = BatchingApp("fetch-batches-test", broker="kafka://127.0.0.1:1", batch_topics={TOPIC: 100})
    app.topics._acking_topics.add(TOPIC)  # what subscribing an agent to the topic does
    consumer = app.consumer
    assert isinstance(consumer, BatchingConsumer)
    return consumer


def chunk(
    consumer: BatchingConsumer, offsets: range, generation: int | None = None, done: bool = True
) -> ChunkMessage:
    """A chunk; ``done`` as the pipeline marks it once ClickHouse and the broker acknowledged it."""
    gen = consumer.app.consumer_generation_id if generation is None else generation
    message = ChunkMessage(TPX, [KafkaRecord(o) for o in offsets], gen)
    message.done = done
    return message


def test_a_chunk_carries_its_records_as_fetched(consumer: BatchingConsumer) -> None:
    message = chunk(consumer, range(5, 8))
    assert message.value == [KafkaRecord(o) for o in (5, 6, 7)]
    assert (message.offset, message.tp, message.offsets) == (7, TPX, [5, 6, 7])


def test_acking_a_chunk_makes_every_offset_in_it_committable(consumer: BatchingConsumer) -> None:
    assert consumer.ack(chunk(consumer, range(0, 50)))
    assert consumer._new_offset(TPX) == 50


def test_chunks_acked_out_of_order_commit_only_up_to_the_first_hole(consumer: BatchingConsumer) -> None:
    consumer.ack(chunk(consumer, range(0, 10)))
    consumer.ack(chunk(consumer, range(20, 30)))
    assert consumer._new_offset(TPX) == 10
    consumer.ack(chunk(consumer, range(10, 20)))
    assert consumer._new_offset(TPX) == 30


def test_a_chunk_is_acked_once(consumer: BatchingConsumer) -> None:
    message = chunk(consumer, range(0, 10))
    assert consumer.ack(message) and not consumer.ack(message)
    assert consumer._n_acked == 10


def test_a_chunk_from_before_a_rebalance_acks_nothing(consumer: BatchingConsumer) -> None:
    stale = chunk(consumer, range(0, 10), generation=consumer.app.consumer_generation_id - 1)
    assert not consumer.ack(stale)
    assert consumer._new_offset(TPX) is None


def test_offsets_below_the_committed_one_are_not_acked_again(consumer: BatchingConsumer) -> None:
    consumer._committed_offset[TPX] = 5
    consumer.ack(chunk(consumer, range(0, 10)))
    assert sorted(consumer._acked[TPX]) == list(range(5, 10))


def test_a_chunk_the_pipeline_did_not_finish_is_never_acked(consumer: BatchingConsumer) -> None:
    unfinished = chunk(consumer, range(0, 10), done=False)
    assert not consumer.ack(unfinished) and not unfinished.acked
    assert consumer._new_offset(TPX) is None


def test_nothing_after_an_unfinished_chunk_commits_in_its_generation(consumer: BatchingConsumer) -> None:
    consumer.ack(chunk(consumer, range(0, 10)))
    consumer.ack(chunk(consumer, range(10, 20), done=False))  # a cancelled batch
    consumer.ack(chunk(consumer, range(20, 30)))  # what take_events' finally acks after it
    assert consumer._new_offset(TPX) == 10


def test_a_first_chunk_left_unfinished_holds_back_a_partition_with_nothing_committed(
    consumer: BatchingConsumer,
) -> None:
    # Faust's own hole check needs a committed offset; with none, acked 10..19 alone would commit 20.
    consumer.ack(chunk(consumer, range(0, 10), done=False))
    consumer.ack(chunk(consumer, range(10, 20)))
    assert consumer._new_offset(TPX) is None


def test_faust_acking_a_cancelled_take_batch_acks_nothing(consumer: BatchingConsumer) -> None:
    """take_events acks each event's message in a finally, also on cancel: Message.ack."""
    message = chunk(consumer, range(0, 10), done=False)
    message.incref()
    assert not message.ack(consumer)
    assert consumer._new_offset(TPX) is None
    message.done = True  # a late finish in the same generation is still held back
    assert not message.ack(consumer) and consumer._new_offset(TPX) is None


def test_an_unfinished_chunk_from_before_a_rebalance_holds_nothing_back(consumer: BatchingConsumer) -> None:
    old = consumer.app.consumer_generation_id - 1
    assert not consumer.ack(chunk(consumer, range(50, 60), generation=old, done=False))
    consumer.ack(chunk(consumer, range(0, 100)))  # the partition replayed in this generation
    assert consumer._new_offset(TPX) == 100


def test_a_seek_that_races_a_rebalance_does_not_crash_the_fetcher(consumer: BatchingConsumer) -> None:
    """Faust's getmany logs this and carries on; a crash here stopped a worker mid-rebalance
    (aiokafka IllegalStateError: no current assignment for the partition)."""

    async def seek_after_the_partition_left() -> None:
        raise IllegalStateError("No current assignment for partition")

    consumer.perform_seek = seek_after_the_partition_left  # type: ignore[method-assign]  # a seek that fails as the broker's would
    consumer.stop_flow()
    asyncio.run(consumer._deliver({TPX: []}, None, {TOPIC: 100}))


def refusing_broker(consumer: BatchingConsumer, *, rebalance_first: bool) -> list[dict[TP, int]]:
    """The consumer thread's commit, answering as aiokafka does when the group rebalanced
    while the commit waited: refused. With ``rebalance_first`` the new assignment has
    already seeked the partition back to what the broker holds (100) by then."""
    asked: list[dict[TP, int]] = []

    async def commit(offsets: dict[TP, int]) -> bool:
        asked.append(dict(offsets))
        if rebalance_first:
            consumer._acked.pop(TPX, None)  # what revoking the partition clears
            consumer._acked_index.pop(TPX, None)
            consumer._committed_offset[TPX] = 100  # what the assignment's seek reads back
        return False

    # the consumer thread's commit and assignment, replaced to watch them
    consumer._thread.commit = commit  # type: ignore[method-assign]
    consumer._thread.assignment = lambda: {TPX}  # type: ignore[method-assign]
    return asked


@pytest.mark.parametrize("rebalance_first", [True, False])
def test_a_refused_commit_is_not_recorded_as_committed(
    consumer: BatchingConsumer, rebalance_first: bool
) -> None:
    consumer._committed_offset[TPX] = 100
    asked = refusing_broker(consumer, rebalance_first=rebalance_first)
    consumer.ack(chunk(consumer, range(100, 150)))
    assert not asyncio.run(consumer.commit())
    assert asked == [{TPX: 150}]
    assert consumer._committed_offset[TPX] == 100, "a refused commit was recorded as committed"


def test_a_partition_replayed_after_a_refused_commit_commits_again(consumer: BatchingConsumer) -> None:
    """Seen once in the scale-out chaos run: the partition went quiet with its last commit
    refused, and the group never committed its end offset."""
    consumer._committed_offset[TPX] = 100
    refusing_broker(consumer, rebalance_first=True)
    consumer.ack(chunk(consumer, range(100, 150)))
    asyncio.run(consumer.commit())
    consumer.ack(chunk(consumer, range(100, 150)))  # the same records, read again after the seek
    assert consumer._new_offset(TPX) == 150
