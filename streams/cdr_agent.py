"""The CDR agent: Faust delivers batches, :class:`CdrPipeline` does the work."""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from schemas.settings import Settings
from streams.batch import RawEvent
from streams.pipeline import CdrPipeline
from streams.pipeline_metrics import PipelineMetrics


def install_cdr_agent(app: faust.App, settings: Settings, metrics: PipelineMetrics) -> CdrPipeline:
    """Declare the topics, the agent and the rebalance hooks on ``app``."""
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    cdr_topic = app.topic(settings.cdr_topic, partitions=settings.partitions, **raw)
    dlq_topic = app.topic(settings.dlq_topic, partitions=1, **raw)
    pipeline = CdrPipeline(settings, dlq_topic, metrics)

    async def cdr_agent(stream: faust.StreamT) -> None:
        async for events in stream.take_events(
            settings.sink_batch_rows, within=settings.sink_flush_seconds
        ):
            batch = [
                RawEvent(e.message.partition, e.message.offset, e.message.key, e.message.value)
                for e in events
            ]
            await pipeline.handle_until_done(batch)

    app.agent(cdr_topic, name="callfloor.cdr_agent")(cdr_agent)

    def ours(partitions: set) -> set[int]:
        return {tp.partition for tp in partitions if tp.topic == settings.cdr_topic}

    @app.on_partitions_revoked.connect
    async def _on_revoked(sender: Any, revoked: set, **kwargs: Any) -> None:  # noqa: ARG001
        pipeline.on_revoked(ours(revoked))

    @app.on_partitions_assigned.connect
    async def _on_assigned(sender: Any, assigned: set, **kwargs: Any) -> None:  # noqa: ARG001
        # Seeding may wait for ClickHouse: never hold the rebalance up for it.
        asyncio.ensure_future(pipeline.on_assigned(ours(assigned)))

    return pipeline
