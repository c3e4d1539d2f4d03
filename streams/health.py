"""``/healthz`` and ``/readyz`` on the worker's web port, for orchestrators.

``/healthz`` answers 200 while the event loop runs: a liveness probe restarts a worker
only when it is wedged, never because Kafka or ClickHouse is away (the worker waits for
those by itself, and a restart would not bring them back).

``/readyz`` answers 200 only when the worker does useful work: it has joined the
consumer group (no rebalance under way), its assigned CDR partitions are seeded from
ClickHouse (so /metrics shows their reps), and ClickHouse answers with the schema version
this worker was built for (``callfloor migrate`` applied it). Otherwise 503 with a
JSON body naming the first reason, so ``kubectl describe`` and ``docker inspect`` say why.
A worker that joined and was given no partition (more workers than partitions) is ready:
it is a hot spare, and holding it unready would stall a rolling update.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import TP

from schemas.settings import Settings
from sinks.clickhouse.client import connect
from sinks.clickhouse.schema_version import SchemaNotReady, check_schema
from streams.pipeline import CdrPipeline

# A probe hits ClickHouse at most this often; in between it reuses the last answer.
CLICKHOUSE_PROBE_EVERY_S = 2.0
CLICKHOUSE_PROBE_TIMEOUT_S = 3


def clickhouse_answers(settings: Settings) -> None:
    """``SELECT 1`` without a database (the DDL may not be applied yet); raises when away."""
    with connect(settings, database="", connect_timeout=CLICKHOUSE_PROBE_TIMEOUT_S,
                 send_receive_timeout=CLICKHOUSE_PROBE_TIMEOUT_S) as client:  # fmt: skip
        client.command("SELECT 1")


def clickhouse_ready_for(settings: Settings, pipeline: CdrPipeline) -> None:
    """ClickHouse answers and, until the pipeline has once seen it so, holds this worker's
    schema version (raises :class:`SchemaNotReady` naming both and ``callfloor migrate``).
    After that only the answer counts: a migrate for the next release, run while this one
    still runs, must not take every running worker out of service."""
    if pipeline.schema_ready:
        clickhouse_answers(settings)
    else:
        check_schema(settings).close()
        pipeline.schema_ready = True


@dataclass
class ClickHouseProbe:
    """The last answer of ClickHouse, refreshed at most every ``every_s`` off the event loop."""

    ping: Callable[[], None]
    every_s: float = CLICKHOUSE_PROBE_EVERY_S
    error: str | None = "not probed yet"
    checked_at: float = field(default=float("-inf"))
    _running: asyncio.Task[None] | None = None

    async def check(self) -> str | None:
        """None when ClickHouse answered recently, else why not (the reason /readyz gives)."""
        if time.monotonic() - self.checked_at >= self.every_s:
            if self._running is None or self._running.done():
                self._running = asyncio.ensure_future(self._probe())
            await asyncio.shield(self._running)
        return self.error

    async def _probe(self) -> None:
        try:
            await asyncio.to_thread(self.ping)
            self.error = None
        except SchemaNotReady as exc:  # reachable, but not migrated: say so and what to run
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            self.error = f"ClickHouse not reachable: {type(exc).__name__}: {exc}"[:300]
        self.checked_at = time.monotonic()


@dataclass
class Readiness:
    """What ``/readyz`` reads: Faust's group state, the pipeline's seeding, ClickHouse."""

    app: faust.App
    pipeline: CdrPipeline
    clickhouse: ClickHouseProbe
    cdr_topic: str
    assignments: int = 0  # assignments received from the group coordinator
    given: set[int] | None = None  # CDR partitions in the last assignment

    def on_assigned(self, assigned: set[TP]) -> None:
        self.assignments += 1
        self.given = {tp.partition for tp in assigned if tp.topic == self.cdr_topic}

    async def check(self) -> tuple[bool, dict[str, Any]]:
        body: dict[str, Any] = {"assigned": sorted(self.pipeline.assigned),
                                "seeded": sorted(self.pipeline.exported_partitions())}  # fmt: skip
        # ClickHouse first: while it is away or not migrated, seeding waits, and saying
        # "not seeded" would hide why
        reason = await self.clickhouse.check()
        if reason is None:
            reason = self._group_reason()
        body["ready"] = reason is None
        if reason is not None:
            body["reason"] = reason
        elif not self.given:
            body["note"] = "joined with no partition (more workers than partitions): a hot spare"
        return reason is None, body

    def _group_reason(self) -> str | None:
        if self.given is None:
            return "not joined the consumer group yet (no partition assignment received)"
        if getattr(self.app, "rebalancing", False):
            return "rebalance in progress"
        if self.pipeline.assigned != self.given:
            return "assignment received, not yet taken over by the pipeline"
        unseeded = self.given - self.pipeline.exported_partitions()
        if unseeded:
            return f"partitions {sorted(unseeded)} not yet seeded from ClickHouse"
        return None


def install_health(app: faust.App, settings: Settings, pipeline: CdrPipeline) -> Readiness:
    """Add ``/healthz`` and ``/readyz`` to ``app``'s web server."""
    readiness = Readiness(app, pipeline, ClickHouseProbe(lambda: clickhouse_ready_for(settings, pipeline)),
                          settings.cdr_topic)  # fmt: skip

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # mode's handler type wants *args
    async def _record_assignment(sender: Any, assigned: set[TP], **kwargs: Any) -> None:
        readiness.on_assigned(assigned)

    @app.page("/healthz")
    async def _healthz(self: Any, request: Any) -> Any:
        return self.json({"alive": True})

    @app.page("/readyz")
    async def _readyz(self: Any, request: Any) -> Any:
        ready, body = await readiness.check()
        return self.json(body, status=200 if ready else 503)

    return readiness
