"""Long-running local services started from the command line."""

from __future__ import annotations

import logging
import signal
import threading

from deploy.local.broker import LocalBroker
from schemas.settings import Settings
from streams.topics import ensure_topics

log = logging.getLogger(__name__)


def wait_for_stop_signal() -> None:
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()


def run_broker(settings: Settings, port: int) -> int:
    broker = LocalBroker(port=port)
    broker.start()
    try:
        ensure_topics(settings.model_copy(update={"kafka_bootstrap": broker.bootstrap}))
        print(f"Kafka broker (tansu, memory only) on {broker.bootstrap}; topics "
              f"{settings.cdr_topic} ({settings.partitions} partitions), {settings.dlq_topic}. "
              "Ctrl-C stops it.", flush=True)  # fmt: skip
        wait_for_stop_signal()
    finally:
        broker.stop()
    return 0
