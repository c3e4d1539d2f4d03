"""The topics the pipeline needs, created and described with kafka-python's admin client.

Three topics. The CDR and DLQ topics are ``cleanup.policy=delete``, never compacted: the
CDR key is ``rep_id``, so compaction would keep only each rep's last call.

- the CDR topic, ``settings.partitions`` partitions, kept ``retention_days`` (default 7):
  ClickHouse is the durable copy; the topic only has to outlast an outage of the sink;
- its dead-letter topic ``<topic>.dlq``, 1 partition, kept ``dlq_retention_days`` (30):
  long enough for someone to look at what the dialer sent wrong;
- the wallboard's snapshot topic (``settings.snapshot_topic``), 1 partition, compacted:
  the newest snapshot of each rep and heartbeat of each worker is all a wallboard needs.

There are no internal topics: the worker has no Faust tables and the leader topic is
disabled. Replication is ``CALLFLOOR_KAFKA_REPLICATION_FACTOR`` (or ``topics create
--replication-factor``), with ``min.insync.replicas`` one less (at least 1), so producing
with ``acks=all`` survives one broker down. A topic is never created with fewer replicas
than asked because a broker happens to be down: creation is refused, naming the brokers up.
Unset, it is min(3, brokers up) as before, which suits the local one-broker stack but
depends on who is up at that moment; deployments pin it (deploy/k8s, deploy/compose).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas.settings import Settings
from schemas.wording import counted
from streams.kafka_config import kafka_python_config, refusal_or

log = logging.getLogger(__name__)

CDR_RETENTION_DAYS = 7
DLQ_RETENTION_DAYS = 30
DAY_MS = 24 * 3600 * 1000
# One partition holds a snapshot per rep and a heartbeat per worker; compaction keeps the newest.
SNAPSHOT_PARTITIONS = 1


class TopicsError(Exception):
    """A topic cannot be brought to the documented shape; the message says what to do."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)
    exact_partitions: bool = True  # the CDR topic: partitions decide which worker holds a rep


def planned_topics(
    settings: Settings,
    replication_factor: int,
    retention_days: float = CDR_RETENTION_DAYS,
    dlq_retention_days: float = DLQ_RETENTION_DAYS,
) -> list[TopicSpec]:
    """The CDR, DLQ and snapshot topics as documented in this module's docstring."""

    def configs(days: float) -> dict[str, str]:
        return {
            "cleanup.policy": "delete",
            "retention.ms": str(int(days * DAY_MS)),
            "min.insync.replicas": str(max(1, replication_factor - 1)),
        }

    return [
        TopicSpec(settings.cdr_topic, settings.partitions, replication_factor, configs(retention_days)),
        TopicSpec(settings.dlq_topic, 1, replication_factor, configs(dlq_retention_days),
                  exact_partitions=False),
        TopicSpec(settings.snapshot_topic, SNAPSHOT_PARTITIONS, replication_factor,
                  {"cleanup.policy": "compact", "min.insync.replicas": str(max(1, replication_factor - 1))},
                  exact_partitions=False),
    ]  # fmt: skip


@contextlib.contextmanager
def admin_client(settings: Settings, timeout_s: float = 30.0) -> Iterator[KafkaAdminClient]:
    try:
        admin = KafkaAdminClient(
            **kafka_python_config(settings),
            client_id=f"{settings.app_id}-admin",
            request_timeout_ms=int(timeout_s * 1000),
        )
    except Exception as exc:  # noqa: BLE001 - a refused login or TLS handshake: say which
        raise refusal_or(settings, exc) from exc
    try:
        yield admin
    finally:
        admin.close()


def topic_names(settings: Settings) -> list[str]:
    return [settings.cdr_topic, settings.dlq_topic, settings.snapshot_topic]


def replication_factor(admin: KafkaAdminClient, settings: Settings, asked: int | None = None) -> int:
    """The replication factor for new topics: ``asked`` (``--replication-factor``), else the
    setting, else min(3, brokers up). An explicit factor above the brokers up raises
    :class:`TopicsError`: Kafka would refuse the topic (or, in some brokers, make it with fewer
    replicas), and a topic made short stays short after the broker returns."""
    # kafka-python asks DescribeCluster for fenced brokers too: those are not up
    brokers = sorted(b["broker_id"] for b in admin.describe_cluster()["brokers"] if not b.get("is_fenced"))
    wanted = asked or settings.kafka_replication_factor
    if wanted is None:
        return max(1, min(3, len(brokers)))
    if wanted > len(brokers):
        source = ("--replication-factor" if asked else "CALLFLOOR_KAFKA_REPLICATION_FACTOR") + f"={wanted}"
        raise TopicsError(
            f"{source} but the Kafka cluster at {settings.kafka_bootstrap} has {len(brokers)} "
            f"broker(s) up (ids {', '.join(map(str, brokers)) or 'none'}); no topic was created: "
            "start the missing brokers, or lower the replication factor on purpose"
        )
    return wanted


def partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Partitions of each topic in ``names`` that exists, in the order of ``names``."""
    found = {
        topic["name"]: len(topic["partitions"])
        for topic in admin.describe_topics(names)
        if topic["error_code"] == 0 and topic["partitions"]
    }
    return {name: found[name] for name in names if name in found}


def partition_problem(spec: TopicSpec, existing: int) -> str | None:
    """Why an existing topic's partition count will not do, or None."""
    if existing == spec.partitions or (not spec.exact_partitions and existing >= 1):
        return None
    if existing > spec.partitions:
        return (f"topic {spec.name} has {existing} partitions, more than the {spec.partitions} asked for; "
                f"Kafka cannot remove partitions: set CALLFLOOR_PARTITIONS={existing}")  # fmt: skip
    return (f"topic {spec.name} has {existing} partitions, fewer than the {spec.partitions} asked for; "
            "adding partitions moves reps to other partitions (their live numbers would be split "
            "between workers until the next day): set CALLFLOOR_PARTITIONS="
            f"{existing}, or add them in a maintenance window (README 'Deployment and scaling')")  # fmt: skip


def create_topics(admin: KafkaAdminClient, specs: list[TopicSpec]) -> list[str]:
    """Create missing topics; leave existing ones whose partitions fit. One line per topic.
    Raises :class:`TopicsError` (creating nothing) when an existing topic does not fit."""
    existing = partition_counts(admin, [spec.name for spec in specs])
    problems = [p for spec in specs if spec.name in existing
                if (p := partition_problem(spec, existing[spec.name]))]  # fmt: skip
    if problems:
        raise TopicsError("; ".join(problems))
    missing = [spec for spec in specs if spec.name not in existing]
    if missing:
        new = [NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication_factor,
                        topic_configs=s.configs) for s in missing]  # fmt: skip
        with contextlib.suppress(TopicAlreadyExistsError):  # another worker was quicker
            admin.create_topics(new)
        log.info("created topics %s", ", ".join(s.name for s in missing))
    return [
        f"{spec.name}: created, {counted(spec.partitions, 'partition', 'partitions')}" if spec in missing
        else f"{spec.name}: exists, {counted(existing[spec.name], 'partition', 'partitions')}"
        for spec in specs
    ]  # fmt: skip


def describe_topics(admin: KafkaAdminClient, names: list[str]) -> list[dict[str, object]]:
    """Partitions, replication factor and the retention/cleanup configs of each topic."""
    out: list[dict[str, object]] = []
    for topic in admin.describe_topics(names):
        if topic["error_code"] != 0 or not topic["partitions"]:
            out.append({"topic": topic["name"], "exists": False})
            continue
        out.append({
            "topic": topic["name"], "exists": True, "partitions": len(topic["partitions"]),
            "replication_factor": min(len(p["replica_nodes"]) for p in topic["partitions"]),
            "configs": topic_configs(admin, topic["name"]),
        })  # fmt: skip
    return out


def topic_configs(admin: KafkaAdminClient, name: str) -> dict[str, str]:
    wanted = ("cleanup.policy", "retention.ms", "min.insync.replicas")
    resource = ConfigResource(ConfigResourceType.TOPIC, name)  # Tansu drops a keyed request
    try:
        found = admin.describe_configs([resource], config_filter="all")["topic"][name]
    except Exception as exc:  # noqa: BLE001 - a broker without DescribeConfigs: say so
        return {"error": str(exc)}
    return {key: found[key]["value"] for key in wanted if key in found}


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> dict[str, int]:
    """Create the CDR, DLQ and snapshot topics if missing (as ``callfloor topics create``
    with its defaults); return the partition count each topic really has. The replication
    factor is resolved (and checked against the brokers up) only when a topic is missing:
    every worker, wallboard and import runs this at start."""
    names = topic_names(settings)
    with admin_client(settings, timeout_s) as admin:
        existing = partition_counts(admin, names)
        if len(existing) == len(names):
            return existing
        specs = planned_topics(settings, replication_factor(admin, settings))
        create_topics(admin, [spec for spec in specs if spec.name not in existing])
        return partition_counts(admin, names)


def check_worker_partitions(settings: Settings, counts: dict[str, int]) -> str | None:
    """Why a worker must not start with these topics, or None: its partition count decides
    which partition a rep is on (the live collector and seeding both rely on it)."""
    real = counts.get(settings.cdr_topic)
    if real is None or real == settings.partitions:
        return None
    return (f"CALLFLOOR_PARTITIONS={settings.partitions} but topic {settings.cdr_topic} has {real} "
            f"partitions; set CALLFLOOR_PARTITIONS={real}")  # fmt: skip
