"""Running the Faust worker for real (``callfloor worker`` / ``python -m streams``)."""

from __future__ import annotations

import logging
import sys

import faust

from schemas.settings import Settings
from schemas.targets import TargetsError
from sinks.clickhouse.client import without_dataframes
from streams.app import create_app
from streams.kafka_config import KafkaAccessError
from streams.retry import retry_for_a_while
from streams.topics import TopicsError, check_worker_partitions, ensure_topics

log = logging.getLogger(__name__)


def ensure_topics_patiently(settings: Settings, attempts: int = 30) -> dict[str, int]:
    """Kafka may come up after the worker; keep asking for a while, then let Faust wait.
    Returns the partition count of each topic (empty when Kafka never answered)."""
    counts = retry_for_a_while(
        "ensuring the topics", lambda: ensure_topics(settings), attempts=attempts,
        # a refused login does not heal by waiting; too few brokers for the replication factor
        # may, but an exit names it to the orchestrator, which starts the worker again
        give_up_on=(KafkaAccessError, TopicsError), logger=log,
    )  # fmt: skip
    if counts is None:
        log.warning("partition count of %s not checked: Kafka did not answer", settings.cdr_topic)
        return {}
    return counts


def refuse(reason: str) -> int:
    log.error("callfloor worker not started: %s", reason)
    print(f"callfloor worker: {reason}", file=sys.stderr)
    return 2


def run_worker(settings: Settings, loglevel: str = "info") -> int:
    log.info("callfloor worker starting with %s", settings.masked())
    without_dataframes()
    try:
        mismatch = check_worker_partitions(settings, ensure_topics_patiently(settings))
    except (KafkaAccessError, TopicsError) as exc:
        return refuse(str(exc))
    if mismatch:
        return refuse(mismatch)
    try:
        app = create_app(settings)
    except TargetsError as exc:
        return refuse(str(exc))
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
    return 0
