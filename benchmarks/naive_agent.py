"""The naive baseline: the CDR agent a plain Faust user would write.

One event at a time (``async for event in stream.events()``), each validated with a
pydantic model of CDR v1 (``NaiveCDR.model_validate_json``, not the worker's msgspec
decoder: a plain user reaches for pydantic), per-rep-day counters kept in a Faust
table (``app.Table``, one changelog write per event), rows buffered and inserted into
ClickHouse (its own database, the same ``calls`` table) once a second by a timer.

It is a yardstick for speed only: offsets are acked per event whether or not its row has
reached ClickHouse yet, and nothing is deduplicated, so it keeps neither invariant 1 nor 2.

Runs like the worker, configured by ``CALLFLOOR_*`` variables:

    CALLFLOOR_APP_ID=naive CALLFLOOR_CLICKHOUSE_DATABASE=naive .venv/bin/python -m benchmarks.naive_agent
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal, cast

import faust
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.cdr import (
    CDR,
    EARLIEST,
    FUTURE_TOLERANCE_SECONDS,
    LATEST,
    MAX_SECONDS,
    TALK_TOLERANCE_SECONDS,
    Amd,
    Direction,
    Disposition,
    Outcome,
)
from schemas.kpis import COUNTER_NAMES, business_day, contribution
from schemas.settings import Settings
from sinks.clickhouse.calls import COLUMNS, call_row
from sinks.clickhouse.ddl import CALLS_TABLE
from sinks.clickhouse.schema_version import apply_schema
from streams.app import GROUP_TIMEOUTS
from streams.kafka_config import faust_config

log = logging.getLogger(__name__)

Id = Annotated[str, Field(min_length=1, max_length=128)]
Money = Annotated[Decimal, Field(ge=0, lt=Decimal("1e15"), decimal_places=2, allow_inf_nan=False)]
Seconds = Annotated[int, Field(ge=0, le=MAX_SECONDS)]


class NaiveCDR(BaseModel):
    """CDR v1 as a pydantic user writes it: same rules as ``schemas.cdr.CDR``, no reasons kept."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    schema_version: Literal[1]
    call_id: Id
    version: Annotated[int, Field(ge=1, le=1_000_000)]
    rep_id: Id
    team_id: Id
    campaign_id: Id
    direction: Direction
    dialed_at: AwareDatetime
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime
    disposition: Disposition
    amd: Amd | None = None
    talk_seconds: Seconds
    wrap_seconds: Seconds = 0
    outcome: Outcome | None = None
    sale_amount: Money | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    new_customer: bool = False
    list_price: Money | None = None
    sold_price: Money | None = None

    @model_validator(mode="after")
    def _consistent(self) -> NaiveCDR:
        dialed = self.dialed_at.timestamp()
        ended = self.ended_at.timestamp()
        answered = None if self.answered_at is None else self.answered_at.timestamp()
        if any(t is not None and not EARLIEST <= t < LATEST for t in (dialed, ended, answered)):
            raise ValueError("timestamp outside 2000..2200")
        if (answered is not None and answered < dialed) or ended < (dialed if answered is None else answered):
            raise ValueError("timestamps out of order")
        if abs(self.talk_seconds - (0.0 if answered is None else ended - answered)) > TALK_TOLERANCE_SECONDS:
            raise ValueError("talk_seconds does not match the timestamps")
        if (self.sale_amount is not None) != (self.outcome == "sale"):
            raise ValueError("sale_amount goes with outcome sale only")
        if dialed > datetime.now(UTC).timestamp() + FUTURE_TOLERANCE_SECONDS:
            raise ValueError("dialed_at is in the future")
        return self


def create_naive_app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.app_id,
        **faust_config(settings),
        store="memory://",
        topic_partitions=settings.partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        # the worker's group timeouts: Faust's defaults would add 30 s before the first event
        **GROUP_TIMEOUTS,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        autodiscover=False,
    )
    cdrs = app.topic(settings.cdr_topic, key_serializer="raw", value_serializer="raw",
                     partitions=settings.partitions)  # fmt: skip
    rep_day = app.Table("rep_day", default=dict, partitions=settings.partitions)
    rows: list[tuple[object, ...]] = []
    clients = []

    @app.agent(cdrs)
    async def count_calls(stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                # same attributes as schemas.cdr.CDR, which is all contribution() and rows read
                cdr = cast(CDR, NaiveCDR.model_validate_json(event.value))
            except ValidationError:
                continue
            counts = contribution(cdr, settings.valid_call_seconds)
            key = f"{cdr.rep_id}|{business_day(cdr.dialed_at, settings.zone).isoformat()}"
            totals = dict(rep_day[key])
            for name, value in zip(COUNTER_NAMES, counts.as_tuple(), strict=True):
                totals[name] = totals.get(name, 0) + value
            rep_day[key] = totals
            message = event.message
            rows.append(call_row(cdr, counts.as_tuple(), message.partition, message.offset, settings.zone))

    def insert(batch: list[tuple[object, ...]]) -> None:
        if not clients:
            clients.append(apply_schema(settings))
        clients[0].insert(CALLS_TABLE, batch, column_names=COLUMNS)

    @app.timer(interval=1.0)
    async def flush() -> None:
        if not rows:
            return
        batch = rows[:]
        rows.clear()
        started = datetime.now(UTC)
        await asyncio.to_thread(insert, batch)
        log.info("inserted %d rows in %.3fs", len(batch), (datetime.now(UTC) - started).total_seconds())

    return app


def main() -> None:
    epilog = "Configured by CALLFLOOR_* variables, like callfloor worker."
    argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=epilog).parse_args()
    settings = Settings()
    apply_schema(settings).close()
    app = create_naive_app(settings)
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
