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
from streams.topics import ensure_topics

log = logging.getLogger(__name__)


def ensure_topics_patiently(settings: Settings, attempts: int = 30) -> None:
    """Kafka may come up after the worker; keep asking for a while, then let Faust wait."""
    for attempt in range(1, attempts + 1):
        try:
            ensure_topics(settings)
            return
        except Exception as exc:  # noqa: BLE001 - broker not reachable yet
            log.warning("topics not ensured (attempt %d/%d): %s", attempt, attempts, exc)
            time.sleep(min(attempt, 5))


def run_worker(settings: Settings, loglevel: str = "info") -> int:
    log.info("callfloor worker starting with %s", settings.masked())
    without_dataframes()
    ensure_topics_patiently(settings)
    try:
        app = create_app(settings)
    except TargetsError as exc:
        log.error("callfloor worker not started: %s", exc)
        print(f"callfloor worker: {exc}", file=sys.stderr)
        return 2
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
    return 0
