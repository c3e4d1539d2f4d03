"""A batch being retried while ClickHouse is away ends at once when the worker stops
(its task is cancelled), leaving nothing half-done behind it and its writes cancelled."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from schemas.settings import Settings
from streams.live_state import LiveState
from streams.pipeline import CdrPipeline
from streams.pipeline_metrics import PipelineMetrics
from streams.routing import RawEvent
from tests.factories import cdr_dict, encode


class AbsentClickHouse:
    """A writer whose every write retries forever, as CallWriter does while ClickHouse is away."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = 0

    async def write(self, rows: Any) -> None:
        self.started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def test_stopping_cancels_a_batch_whose_writes_are_retrying() -> None:
    async def scenario() -> tuple[bool, int, dict[int, int]]:
        pipeline = CdrPipeline(Settings(), dlq_topic=None, metrics=PipelineMetrics(CollectorRegistry()))  # type: ignore[arg-type]
        pipeline.state = LiveState(today=pipeline.today)
        pipeline.take_assignment({0})
        pipeline.state.seed(0, [])
        writer = AbsentClickHouse()
        pipeline.writer = writer  # type: ignore[assignment]
        batch = [RawEvent(0, i, b"rep-1", encode(cdr_dict(call_id=f"c-{i}"))) for i in range(3)]
        task = asyncio.ensure_future(pipeline.handle_until_done(batch))
        await asyncio.wait_for(writer.started.wait(), 5)
        task.cancel()  # what Faust does to the agent on SIGTERM or SIGINT
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        return task.cancelled(), writer.cancelled, pipeline.next_offsets

    cancelled, writes_cancelled, next_offsets = asyncio.run(scenario())
    assert cancelled and writes_cancelled == 1
    assert next_offsets == {}, "a cancelled batch must not count as processed"
