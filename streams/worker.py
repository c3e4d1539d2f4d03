"""Running the Faust worker for real (``callfloor worker`` / ``python -m streams``)."""

from __future__ import annotations

import logging
import sys
import time

import faust

from schemas.settings import Settings
from schemas.targets import TargetsError
from sinks.clickhouse.client import without_dataframes
from streams.app import create_app
from streams.kafka_config import KafkaAccessError
from streams.topics import check_worker_partitions, ensure_topics

log = logging.getLogger(__name__)


def ensure_topics_patiently(settings: Settings, attempts: int = 30) -> dict[str, int]:
    """Kafka may come up after the worker; keep asking for a while, then let Faust wait.
    Returns the partition count of each topic (empty when Kafka never answered)."""
    for attempt in range(1, attempts + 1):
        try:
            return ensure_topics(settings)
        except KafkaAccessError:
            raise  # a refused login or certificate does not heal by waiting
        except Exception as exc:  # noqa: BLE001 - broker not reachable yet
            log.warning("topics not ensured (attempt %d/%d): %s", attempt, attempts, exc)
            time.sleep(min(attempt, 5))
    log.warning("partition count of %s not checked: Kafka did not answer", settings.cdr_topic)
    return {}


def refuse(reason: str) -> int:
    log.error("callfloor worker not started: %s", reason)
    print(f"callfloor worker: {reason}", file=sys.stderr)
    return 2


def run_worker(settings: Settings, loglevel: str = "info") -> int:
    log.info("callfloor worker starting with %s", settings.masked())
    without_dataframes()
    try:
        mismatch = check_worker_partitions(settings, ensure_topics_patiently(settings))
    except KafkaAccessError as exc:
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
