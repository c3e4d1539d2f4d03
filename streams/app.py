"""The Faust application, built from settings (never at import time)."""

from __future__ import annotations

import faust

from schemas.settings import Settings


def broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def create_app(settings: Settings) -> faust.App:
    """A Faust app with the pipeline's agents installed."""
    from streams.cdr_agent import install_cdr_agent

    app = faust.App(
        settings.app_id,
        broker=broker_urls(settings.kafka_bootstrap),
        store="memory://",
        topic_partitions=settings.partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,  # on shutdown, unprocessed events are simply redelivered
        producer_acks=-1,
        # Short group timeouts: a killed worker's partitions move within seconds,
        # and the broker does not hold a (re)join open for long.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=10.0,
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
        autodiscover=False,
    )
    app.pipeline = install_cdr_agent(app, settings)  # type: ignore[attr-defined]
    return app
