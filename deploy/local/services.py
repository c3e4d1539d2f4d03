"""Long-running local services started from the command line."""

from __future__ import annotations

import logging
import signal
import threading

from deploy.local.broker import LocalBroker
from schemas.settings import Settings
from schemas.wording import counted
from streams.topics import ensure_topics

log = logging.getLogger(__name__)


def wait_for_stop_signal() -> None:
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()


def topics_line(partitions: dict[str, int]) -> str:
    """The topics ``ensure_topics`` made or found, each with its partition count: printed from
    what it returns, so a topic added there (the wallboard's snapshots) is listed too."""
    return ", ".join(f"{name} ({counted(n, 'partition', 'partitions')})" for name, n in partitions.items())


def run_broker(settings: Settings, port: int) -> int:
    broker = LocalBroker(port=port)
    broker.start()
    try:
        made = ensure_topics(settings.model_copy(update={"kafka_bootstrap": broker.bootstrap}))
        print(f"Kafka broker (tansu, memory only) on {broker.bootstrap}; topics {topics_line(made)}. "
              "Ctrl-C stops it.", flush=True)  # fmt: skip
        wait_for_stop_signal()
    finally:
        broker.stop()
    return 0
