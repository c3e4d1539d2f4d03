"""Topics the pipeline needs, created idempotently with kafka-python's admin client."""

from __future__ import annotations

import contextlib
import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas.settings import Settings

log = logging.getLogger(__name__)


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> None:
    """Create the CDR topic (``settings.partitions``) and its dead-letter topic if missing."""
    wanted = {settings.cdr_topic: settings.partitions, settings.dlq_topic: 1}
    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        client_id=f"{settings.app_id}-admin",
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=count, replication_factor=1)
            for name, count in wanted.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
            log.info("created topics %s", ", ".join(t.name for t in missing))
    finally:
        admin.close()
