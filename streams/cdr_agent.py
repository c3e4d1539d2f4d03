"""The CDR agent: Faust delivers batches, :class:`CdrPipeline` does the work."""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from schemas.settings import Settings
from streams.faust_internals import mark_done
from streams.pipeline import CdrPipeline
from streams.pipeline_metrics import PipelineMetrics
from streams.routing import KafkaRecord

# The CDR topic reaches the agent in chunks of up to CHUNK_ROWS records, one Faust event
# each (streams.faust_internals); the agent's queue holds up to BUFFERED_CHUNKS of them
# before Faust pauses fetching.
CHUNK_ROWS = 1000
BUFFERED_CHUNKS = 64


def install_cdr_agent(app: faust.App, settings: Settings, metrics: PipelineMetrics) -> CdrPipeline:
    """Declare the topics, the agent and the rebalance hooks on ``app``."""
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    cdr_topic = app.topic(settings.cdr_topic, partitions=settings.partitions, **raw)
    dlq_topic = app.topic(settings.dlq_topic, partitions=1, **raw)
    pipeline = CdrPipeline(settings, dlq_topic, metrics)

    # Each event is a chunk of up to CHUNK_ROWS records (streams.faust_internals); a flush
    # happens every sink_flush_seconds, or once about sink_batch_rows records are buffered.
    chunks_per_flush = max(1, settings.sink_batch_rows // CHUNK_ROWS)

    async def cdr_agent(stream: faust.StreamT) -> None:
        async for chunks in stream.take_events(chunks_per_flush, within=settings.sink_flush_seconds):
            batch: list[KafkaRecord] = [record for chunk in chunks for record in chunk.value]
            await pipeline.handle_until_done(batch)
            # take_events acks in a finally, also when cancelled or failing: only chunks
            # marked here, after ClickHouse and the broker acknowledged them, may be acked.
            mark_done(chunks)

    app.agent(cdr_topic, name="callfloor.cdr_agent")(cdr_agent)

    def ours(partitions: set) -> set[int]:
        return {tp.partition for tp in partitions if tp.topic == settings.cdr_topic}

    @app.on_partitions_revoked.connect
    async def _on_revoked(sender: Any, revoked: set, **kwargs: Any) -> None:
        pipeline.on_revoked(ours(revoked))

    @app.on_partitions_assigned.connect
    async def _on_assigned(sender: Any, assigned: set, **kwargs: Any) -> None:
        # Held from now on, before any chunk of the new generation reaches the agent; seeding
        # may wait for ClickHouse: never hold the rebalance up for it.
        pipeline.take_assignment(ours(assigned))
        pipeline.topic_partitions = app.consumer.topic_partitions(settings.cdr_topic) or settings.partitions
        asyncio.ensure_future(pipeline.seed_assigned())

    return pipeline
