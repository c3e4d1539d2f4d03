"""Every use of a private name of faust-streaming and aiokafka, in one place.

The worker's consumer hands each fetched chunk of a busy topic to the agent as one event.
Faust wraps every Kafka record in a Message and an Event, passes it through the
conductor, a queue and the stream's iterator, and acks it alone: about a hundred
microseconds a record here, several times the cost of validating and counting a CDR.
For the topics in :attr:`BatchingApp.batch_topics` this consumer delivers one
:class:`ChunkMessage` per fetched run of records instead, whose value is the list of
aiokafka records as fetched and whose ack acks every offset in it. Everything else
stays Faust's: group membership, assignment, rebalancing, seeking to the committed
offsets, flow control, and committing acked offsets.

Stop safety: the agent reads a ``noack`` stream and acks a chunk only after its flush
stored it (:func:`streams.cdr_agent.cdr_flow`), and ``Consumer.on_stop`` commits what was acked.
As a second guard (Faust's own ``take_events`` acks in a ``finally``, also when its body
is cancelled or raises), a chunk's ack is refused unless the pipeline marked it done
(:func:`mark_done`, after ClickHouse and the broker acknowledged everything in it); once a
chunk of a partition is refused, no later offset of that partition is acked in that
generation either, so a commit can never pass it.

Commit bookkeeping: Faust's ``_commit_offsets`` records offsets as committed even when the
broker refused the commit (the group had rebalanced; fixed upstream in faust-streaming
PR #692, not in 0.15.3). If the new assignment had already seeked the partition back to the
broker's committed offset, every replayed offset below that record looked committed, was
never acked again, and a partition that then went quiet never committed again. The
consumer here puts back what it held before a refused commit.

The names used here are private to faust-streaming 0.15.3 and aiokafka 0.14.0 (both
pinned); ``PRIVATE_NAMES`` lists them and ``tests/unit/test_faust_internals.py`` checks
each one on the installed versions, so an upgrade fails in ``make test``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, cast

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, EventT, Message
from faust.types.tuples import ConsumerMessage, ack_lock
from mode import ServiceT
from mode.utils.futures import notify

from streams.routing import KafkaRecord

log = logging.getLogger(__name__)

FETCH_MAX_WAIT_MS = 100

# (where, name, how it is used): the compatibility test checks every entry, and that no
# other private name appears in this module.
PRIVATE_NAMES: tuple[tuple[str, str, str], ...] = (
    ("faust.transport.consumer.Consumer", "_drain_messages", "overridden coroutine (self, fetcher)"),
    ("faust.transport.consumer.Consumer", "_wait_next_records", "awaited (timeout)"),
    ("faust.transport.consumer.Consumer", "_add_gap", "awaited (tp, start, end)"),
    ("faust.transport.consumer.Consumer", "_to_message", "called (tp, record) for unbatched topics"),
    ("faust.transport.consumer.ThreadDelegateConsumer", "_new_consumer_thread",
     "overridden, returns the thread"),
    ("faust.transport.consumer.Consumer", "_read_offset", "instance dict tp -> last offset read"),
    ("faust.transport.consumer.Consumer", "_acked", "instance dict tp -> list of acked offsets"),
    ("faust.transport.consumer.Consumer", "_acked_index", "instance dict tp -> set of acked offsets"),
    ("faust.transport.consumer.Consumer", "_committed_offset", "instance dict tp -> committed offset"),
    ("faust.transport.consumer.Consumer", "_commit_offsets",
     "overridden coroutine (offsets, start_new_transaction); records offsets as committed"),
    ("faust.transport.consumer.ThreadDelegateConsumer", "_commit",
     "overridden coroutine (offsets) -> bool, False when the broker refused"),
    ("faust.transport.consumer.Consumer", "_n_acked", "instance int"),
    ("faust.transport.consumer.Consumer", "_unacked_messages", "instance set, discard()"),
    ("faust.transport.consumer.Consumer", "_buffered_partitions", "instance set of TP"),
    ("faust.transport.consumer.Consumer", "_commit_every", "instance int or None"),
    ("faust.transport.consumer.Consumer", "_waiting_for_ack", "instance future or None, notified"),
    ("mode.Service", "_stopped", "instance event, is_set()"),
    ("faust.transport.drivers.aiokafka.AIOKafkaConsumerThread", "_create_worker_consumer",
     "overridden (self, transport), returns the AIOKafkaConsumer"),
    ("aiokafka.AIOKafkaConsumer", "_fetch_max_wait_ms", "assigned before start(); the Fetcher reads it"),
    ("faust.App", "_new_transport", "overridden, returns the transport"),
    ("faust.types.tuples", "ack_lock", "reentrant lock taken in ack()"),
    ("faust.types.tuples.ConsumerMessage", "__init__", "keyword fields, see CONSUMER_MESSAGE_FIELDS"),
)  # fmt: skip

# The constructor fields ChunkMessage fills, in ConsumerMessage's positional order.
CONSUMER_MESSAGE_FIELDS = (
    "topic", "partition", "offset", "timestamp", "timestamp_type", "headers", "key", "value",
    "checksum", "serialized_key_size", "serialized_value_size", "tp", "generation_id",
)  # fmt: skip


class ChunkMessage(ConsumerMessage):
    """A run of records of one partition, carried as one message; ``offset`` is the last one's.
    ``done`` is set by :func:`mark_done` once everything in it is stored or dead-lettered."""

    def __init__(self, tp: TP, records: Sequence[KafkaRecord], generation_id: int | None) -> None:
        last = cast(Any, records[-1])  # aiokafka's ConsumerRecord (untyped): its timestamps too
        super().__init__(
            topic=tp.topic, partition=tp.partition, offset=last.offset,
            timestamp=(last.timestamp or 0) / 1000.0, timestamp_type=last.timestamp_type,
            headers=None, key=None, value=records, checksum=None,  # type: ignore[arg-type]  # a chunk, not bytes
            serialized_key_size=0, serialized_value_size=0, tp=tp, generation_id=generation_id,
        )  # fmt: skip
        self.done = False

    @property
    def offsets(self) -> list[int]:
        return [record.offset for record in cast("Sequence[KafkaRecord]", self.value)]


def mark_done(events: Iterable[EventT[Any]]) -> None:
    """Allow the chunks behind ``events`` to be acked: call only once ClickHouse and the
    broker acknowledged every row and dead letter they produced."""
    for event in events:
        message = event.message
        if isinstance(message, ChunkMessage):
            message.done = True


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Faust fixes fetch_max_wait_ms at 1,500. Against Tansu that held new records back:
        # produce -> /metrics p99 was 1.07 s at 2,000 CDR/s, and 0.39 s with 100 ms.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class BatchingConsumer(faust_aiokafka.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # tp -> (generation, first offset of the first chunk whose ack was refused)
        self.refused_from: dict[TP, tuple[int, int]] = {}
        # tp -> committed offset held just before a commit the broker refused
        self.held_before_refusal: dict[TP, int | None] = {}

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: ServiceT) -> None:  # pragma: no cover - run by Faust
        """Faust's fetch loop, with a batch path for the topics the app names."""
        batch_topics: dict[str, int] = getattr(self.app, "batch_topics", {})
        # mode's private stop flags, which its public types do not declare
        consumer_stopped = cast(Any, self)._stopped.is_set
        fetcher_stopped = cast(Any, fetcher)._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                records, active = await self._wait_next_records(1.0)
                await self.sleep(0)
                if records and not self.should_stop:
                    await self._deliver(records, active, batch_topics)
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _deliver(self, records: Any, active: set[TP] | None, batch_topics: dict[str, int]) -> None:
        if not self.flow_active:  # as Faust's getmany: a rebalance is under way, seek back
            try:
                await self.perform_seek()
            except Exception as exc:  # noqa: BLE001 - the partition left meanwhile; the assignment seeks
                self.log.warning("seek back to committed offsets failed while flow is paused: %r", exc)
            return
        generation_id = self.app.consumer_generation_id
        for tp, tp_records in records.items():
            if self.app.consumer_generation_id != generation_id or not self.flow_active:
                return
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            fresh = self._unread(tp, tp_records)
            if not fresh:
                continue
            await self._mark_gaps(tp, fresh)
            chunk_rows = batch_topics.get(tp.topic)
            if chunk_rows is None:
                for record in fresh:
                    await self._hand_over(self._to_message(tp, record))
            else:
                for start in range(0, len(fresh), chunk_rows):
                    chunk = fresh[start : start + chunk_rows]
                    await self._hand_over(ChunkMessage(tp, chunk, generation_id))
            self._read_offset[tp] = fresh[-1].offset

    def _unread(self, tp: TP, records: list[Any]) -> list[Any]:
        read = self._read_offset[tp]
        if read is None or records[0].offset >= read:
            return records
        return [record for record in records if record.offset >= read]

    async def _mark_gaps(self, tp: TP, records: list[Any]) -> None:
        """Offsets skipped inside a partition (compaction, transaction markers) count as acked."""
        previous = self._read_offset[tp]
        if not self.app.topics.acks_enabled_for(tp.topic):
            return
        if previous and records[0].offset - previous > 1:
            await self._add_gap(tp, previous + 1, records[0].offset)
        if records[-1].offset - records[0].offset == len(records) - 1:
            return
        for before, after in zip(records, records[1:], strict=False):
            if after.offset - before.offset > 1:
                await self._add_gap(tp, before.offset + 1, after.offset)

    async def _hand_over(self, message: Message) -> None:
        commit_every = self._commit_every
        if commit_every is not None and self._n_acked >= commit_every:
            self._n_acked = 0
            await self.commit()
        await self.wait_first(self.callback(message), self.suspend_flow.wait())

    def ack(self, message: Message) -> bool:
        """Ack every offset of a chunk the pipeline marked done. A chunk not done (its batch
        was cancelled or failed) is refused, and so is every later offset of its partition
        in this generation; a chunk from before the last rebalance acks nothing, because
        the rebalance seeked its partition back to the committed offset."""
        if not isinstance(message, ChunkMessage):
            return super().ack(message)
        with ack_lock:
            if message.acked:
                return False
            tp = message.tp
            generation = self.app.consumer_generation_id
            stale = message.generation_id != generation
            if not (message.done or stale):
                self._refuse(tp, generation, message)
                return False
            message.acked = True
            self._unacked_messages.discard(message)
            if stale or not self.app.topics.acks_enabled_for(tp.topic):
                return False
            committed = self._committed_offset[tp]
            refused = self.refused_from.get(tp)
            limit = refused[1] if refused is not None and refused[0] == generation else None
            index = self._acked_index[tp]
            fresh = [
                o for o in message.offsets
                if (committed is None or o >= committed) and o not in index and (limit is None or o < limit)
            ]  # fmt: skip
            index.update(fresh)
            self._acked[tp].extend(fresh)
            self._n_acked += len(fresh)
            notify(self._waiting_for_ack)
            return bool(fresh)

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        did_commit: bool = await super()._commit(offsets)
        if not did_commit:
            self.held_before_refusal = {tp: self._committed_offset.get(tp) for tp in offsets}
        return did_commit

    async def _commit_offsets(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        """Faust's commit, except that a refused commit leaves the committed offsets as they
        were when the refusal arrived (Faust commits one at a time, so one slot will do)."""
        self.held_before_refusal = {}
        did_commit: bool = await super()._commit_offsets(offsets, start_new_transaction)
        held, self.held_before_refusal = self.held_before_refusal, {}
        for tp, committed in held.items():
            if committed is None:
                self._committed_offset.pop(tp, None)
            else:
                self._committed_offset[tp] = committed
        if held:
            log.info("commit of %s refused (the group rebalanced); committed offsets stay %s",
                     dict(offsets), held)  # fmt: skip
        return did_commit

    def _refuse(self, tp: TP, generation: int, message: ChunkMessage) -> None:
        first = message.offsets[0]
        held = self.refused_from.get(tp)
        if held is None or held[0] != generation or first < held[1]:
            self.refused_from[tp] = (generation, first)
            log.warning("%s: chunk from offset %d was not finished; it and what follows are "
                        "not committed and will be replayed", tp, first)  # fmt: skip


class BatchingTransport(faust_aiokafka.Transport):
    Consumer: ClassVar[type] = BatchingConsumer


class BatchingApp(faust.App):
    """A Faust app whose consumer delivers ``batch_topics`` (topic -> max records per chunk)
    in chunks; agents on those topics receive lists of aiokafka records."""

    batch_topics: dict[str, int]

    def __init__(self, *args: Any, batch_topics: dict[str, int] | None = None, **kwargs: Any) -> None:
        self.batch_topics = dict(batch_topics or {})
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> BatchingTransport:
        return BatchingTransport(self.conf.broker_consumer, self)
