"""The naive baseline: the CDR agent a plain Faust user would write.

One event at a time (``async for event in stream.events()``), each validated with the
project's pydantic model (``schemas.cdr.parse_cdr``), per-rep-day counters kept in a Faust
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

import faust

from schemas.cdr import parse_cdr
from schemas.metrics import COUNTER_NAMES, business_day, contribution
from schemas.rejections import CDRRejected
from schemas.settings import Settings
from sinks.clickhouse.calls import COLUMNS, AcceptedCall
from sinks.clickhouse.ddl import CALLS_TABLE, apply_schema
from streams.app import GROUP_TIMEOUTS, broker_urls

log = logging.getLogger(__name__)


def create_naive_app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=broker_urls(settings.kafka_bootstrap),
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
                cdr = parse_cdr(event.value)
            except CDRRejected:
                continue
            counts = contribution(cdr, settings.valid_call_seconds)
            key = f"{cdr.rep_id}|{business_day(cdr.dialed_at, settings.zone).isoformat()}"
            totals = dict(rep_day[key])
            for name, value in zip(COUNTER_NAMES, counts.as_tuple(), strict=True):
                totals[name] = totals.get(name, 0) + value
            rep_day[key] = totals
            message = event.message
            rows.append(AcceptedCall.of(cdr, counts, message.partition, message.offset, settings.zone).row())

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
