"""Topics the pipeline needs, created idempotently with kafka-python's admin client."""

from __future__ import annotations

import contextlib
import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas.settings import Settings

log = logging.getLogger(__name__)


# One partition holds a snapshot per rep and a heartbeat per worker; compaction keeps the newest.
SNAPSHOT_PARTITIONS = 1
COMPACTED = {"cleanup.policy": "compact"}


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> None:
    """Create the CDR topic (``settings.partitions``), its dead-letter topic and the
    wallboard's compacted snapshot topic if missing."""
    wanted = {settings.cdr_topic: settings.partitions, settings.dlq_topic: 1,
              settings.snapshot_topic: SNAPSHOT_PARTITIONS}  # fmt: skip
    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        client_id=f"{settings.app_id}-admin",
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=count, replication_factor=1,
                     topic_configs=COMPACTED if name == settings.snapshot_topic else {})  # fmt: skip
            for name, count in wanted.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
            log.info("created topics %s", ", ".join(t.name for t in missing))
    finally:
        admin.close()
