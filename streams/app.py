"""The Faust application, built from settings (never at import time)."""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry

from schemas.settings import Settings
from streams.faust_internals import BatchingApp
from streams.kafka_config import faust_config

# Short group timeouts: a killed worker's partitions move within seconds, and the broker
# does not hold a (re)join open for long (Tansu waits the whole rebalance timeout).
GROUP_TIMEOUTS = {
    "broker_session_timeout": 10.0,
    "broker_heartbeat_interval": 1.0,
    "broker_rebalance_timeout": 10.0,
}


def create_app(settings: Settings, registry: CollectorRegistry | None = None) -> faust.App:
    """A Faust app with the CDR agent and /metrics installed (a fresh registry by default)."""
    from streams.cdr_agent import BUFFERED_CHUNKS, CHUNK_ROWS, install_cdr_agent
    from streams.health import install_health
    from streams.live_metrics import install_live_metrics
    from streams.pipeline_metrics import PipelineMetrics
    from streams.snapshots import install_snapshots

    app = BatchingApp(
        settings.app_id,
        batch_topics={settings.cdr_topic: CHUNK_ROWS},
        **faust_config(settings),
        store="memory://",
        # Faust's own directory (table changelog offsets) beside the engine's data, never the
        # working directory (its default, "{app_id}-data", littered every checkout a test ran in).
        datadir=str(settings.data_dir / f"{settings.app_id}-faust"),
        topic_partitions=settings.partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,  # on shutdown, unprocessed events are simply redelivered
        stream_buffer_maxsize=BUFFERED_CHUNKS,
        producer_acks=-1,
        **GROUP_TIMEOUTS,
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
        autodiscover=False,
    )
    registry = registry if registry is not None else CollectorRegistry()
    pipeline = install_cdr_agent(app, settings, PipelineMetrics(registry))
    collector = install_live_metrics(app, settings, pipeline, registry)
    install_snapshots(app, settings, pipeline, collector)
    install_health(app, settings, pipeline)
    # for tests and tools that start the app: faust.App declares no such attributes
    app.live_collector = collector  # type: ignore[attr-defined]
    app.pipeline = pipeline  # type: ignore[attr-defined]
    return app
