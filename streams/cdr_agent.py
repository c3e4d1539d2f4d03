"""The CDR agent, and a CDR's whole way from Kafka to a committed offset in one function.

:func:`cdr_flow` is the agent's body: count, flush, write rows and dead letters, mark done,
ack, in that order (docs/develop/architecture.md draws it). The steps' work is done by
:class:`SinkBuffer` (batching), :class:`CdrPipeline` (counting and storing) and
:mod:`streams.faust_internals` (the chunk consumer that refuses an ack not marked done);
the order, and the rule that nothing is acked before it is stored, are read here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any

import faust
from faust.types import TP, EventT

from schemas.settings import Settings
from streams.faust_internals import mark_done
from streams.pipeline import CdrPipeline
from streams.pipeline_metrics import PipelineMetrics
from streams.sink_buffer import Batch, SinkBuffer

# The CDR topic reaches the agent in chunks of up to CHUNK_ROWS records, one Faust event
# each (streams.faust_internals); the agent's queue holds up to BUFFERED_CHUNKS of them
# before Faust pauses fetching.
CHUNK_ROWS = 1000
BUFFERED_CHUNKS = 64


async def cdr_flow(
    pipeline: CdrPipeline,
    chunks: AsyncIterable[EventT[Any]],
    ack: Callable[[EventT[Any]], Awaitable[object]],
    *,
    flush_seconds: float,
    batch_rows: int,
) -> None:
    """Each chunk of CDRs (one Faust event of up to CHUNK_ROWS records) from arrival to a
    committable offset:

    1. **count**: validate and route the chunk into the live state at once, so /metrics and
       the wallboard show it (:meth:`SinkBuffer.add` calls :meth:`CdrPipeline.count`);
    2. **flush**: the chunks counted since the last flush are one batch, due ``flush_seconds``
       after the oldest arrived or when ``batch_rows`` records wait; one flush at a time;
    3. **write** the batch's rows to ClickHouse (one insert), **then** send its dead letters
       to the broker; each returns only once acknowledged (retried until it is);
    4. **mark done**: only now may the consumer ack these chunks (it refuses any other);
    5. **ack** them; Faust commits acked offsets (every ``broker_commit_interval``, 2.8 s, or
       ``broker_commit_every`` acked offsets, and on stop).

    A stop cancels this coroutine, mid-write included: a chunk not through step 3 is never
    acked, and whoever holds its partition next replays it (``FINAL`` counts it once).
    """

    async def store_then_ack(batch: Batch) -> None:
        await pipeline.write_rows(batch.rows)  # 3. ClickHouse acknowledged every row
        await pipeline.send_dead_letters(batch.dead_letters)  # 3. the broker every dead letter
        pipeline.note_stored(batch.counted)  # next offsets (lag) and the pipeline metrics
        mark_done(batch.events)  # 4. stored: these chunks may be acked
        for event in batch.events:
            await ack(event)  # 5. acked offsets are committed by Faust

    sink = SinkBuffer(pipeline, store_then_ack, flush_seconds=flush_seconds, batch_rows=batch_rows)
    async with sink.flushing():  # 2. due batches go to store_then_ack, one at a time
        async for chunk in chunks:
            await sink.add(chunk)  # 1. counted now; waits only while a whole batch waits


def install_cdr_agent(app: faust.App, settings: Settings, metrics: PipelineMetrics) -> CdrPipeline:
    """Declare the topics, the agent and the rebalance hooks on ``app``."""
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    cdr_topic = app.topic(settings.cdr_topic, partitions=settings.partitions, **raw)
    dlq_topic = app.topic(settings.dlq_topic, partitions=1, **raw)
    pipeline = CdrPipeline(settings, dlq_topic, metrics)

    async def cdr_agent(stream: faust.StreamT[Any]) -> None:
        # acks are cdr_flow's alone, after the store
        manual = stream.noack()  # type: ignore[attr-defined]  # StreamT omits it; an agent gets a Stream
        await cdr_flow(pipeline, manual.events(), manual.ack, flush_seconds=settings.sink_flush_seconds,
                       batch_rows=settings.sink_batch_rows)  # fmt: skip

    app.agent(cdr_topic, name="callfloor.cdr_agent")(cdr_agent)

    def ours(partitions: set[TP]) -> set[int]:
        return {tp.partition for tp in partitions if tp.topic == settings.cdr_topic}

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode's handler type wants *args
    async def _on_revoked(sender: Any, revoked: set[TP], **kwargs: Any) -> None:
        pipeline.on_revoked(ours(revoked))

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # mode's handler type wants *args
    async def _on_assigned(sender: Any, assigned: set[TP], **kwargs: Any) -> None:
        # Held from now on, before any chunk of the new generation reaches the agent; seeding
        # may wait for ClickHouse: never hold the rebalance up for it.
        pipeline.take_assignment(ours(assigned))
        pipeline.topic_partitions = app.consumer.topic_partitions(settings.cdr_topic) or settings.partitions
        asyncio.ensure_future(pipeline.seed_assigned())

    return pipeline
