"""The CDR agent: Faust delivers chunks, :class:`SinkBuffer` and :class:`CdrPipeline` do the work."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.types import TP

from schemas.settings import Settings
from streams.pipeline import CdrPipeline
from streams.pipeline_metrics import PipelineMetrics
from streams.sink_buffer import SinkBuffer

# The CDR topic reaches the agent in chunks of up to CHUNK_ROWS records, one Faust event
# each (streams.faust_internals); the agent's queue holds up to BUFFERED_CHUNKS of them
# before Faust pauses fetching.
CHUNK_ROWS = 1000
BUFFERED_CHUNKS = 64


def install_cdr_agent(app: faust.App, settings: Settings, metrics: PipelineMetrics) -> CdrPipeline:
    """Declare the topics, the agent and the rebalance hooks on ``app``."""
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    cdr_topic = app.topic(settings.cdr_topic, partitions=settings.partitions, **raw)
    dlq_topic = app.topic(settings.dlq_topic, partitions=1, **raw)
    pipeline = CdrPipeline(settings, dlq_topic, metrics)

    async def cdr_agent(stream: faust.StreamT[Any]) -> None:
        # Each event is a chunk of up to CHUNK_ROWS records (streams.faust_internals), counted
        # on arrival; the sink buffer stores and acks them (acks are ours alone: noack).
        manual = stream.noack()  # type: ignore[attr-defined]  # StreamT omits it; an agent gets a Stream
        sink = SinkBuffer(pipeline, manual.ack, flush_seconds=settings.sink_flush_seconds,
                          batch_rows=settings.sink_batch_rows)  # fmt: skip
        async with sink.flushing():
            async for chunk in manual.events():
                await sink.add(chunk)

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
