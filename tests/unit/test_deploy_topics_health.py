"""Pure logic of topic planning, the worker's partition check and /readyz's verdicts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from faust.types import TP
from pydantic import ValidationError

from schemas.settings import Settings
from streams.health import ClickHouseProbe, Readiness
from streams.topics import DAY_MS, TopicSpec, check_worker_partitions, partition_problem, planned_topics

SETTINGS = Settings(cdr_topic="cdr", partitions=12)


def test_cdr_and_dlq_are_deleted_by_age_and_snapshots_compacted() -> None:
    topics = planned_topics(SETTINGS, replication_factor=3, retention_days=7, dlq_retention_days=30)
    cdr, dlq, snapshots = topics
    assert snapshots.configs["cleanup.policy"] == "compact" and snapshots.partitions == 1
    assert (cdr.name, cdr.partitions, cdr.replication_factor) == ("cdr", 12, 3)
    assert (dlq.name, dlq.partitions) == ("cdr.dlq", 1)
    assert cdr.configs == {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS),
                           "min.insync.replicas": "2"}  # fmt: skip
    assert dlq.configs["retention.ms"] == str(30 * DAY_MS)
    (single, _, _) = planned_topics(SETTINGS, replication_factor=1)
    assert single.configs["min.insync.replicas"] == "1"


def test_the_replication_factor_setting_is_optional_and_at_least_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty (as compose and k8s pass an unset variable) keeps min(3, brokers up)."""
    monkeypatch.setenv("CALLFLOOR_KAFKA_REPLICATION_FACTOR", "")
    assert Settings().kafka_replication_factor is None
    monkeypatch.setenv("CALLFLOOR_KAFKA_REPLICATION_FACTOR", "3")
    assert Settings().kafka_replication_factor == 3
    monkeypatch.setenv("CALLFLOOR_KAFKA_REPLICATION_FACTOR", "0")
    with pytest.raises(ValidationError, match="kafka_replication_factor"):
        Settings()


def test_an_existing_cdr_topic_must_have_exactly_the_partitions_asked_for() -> None:
    spec = TopicSpec("cdr", 12, 1)
    assert partition_problem(spec, 12) is None
    assert "cannot remove partitions: set CALLFLOOR_PARTITIONS=16" in (partition_problem(spec, 16) or "")
    assert "fewer than the 12" in (partition_problem(spec, 8) or "")
    assert partition_problem(TopicSpec("cdr.dlq", 1, 1, exact_partitions=False), 3) is None


def test_the_worker_refuses_a_partition_count_the_topic_does_not_have() -> None:
    assert check_worker_partitions(SETTINGS, {"cdr": 12, "cdr.dlq": 1}) is None
    assert check_worker_partitions(SETTINGS, {}) is None  # not known: Faust waits for Kafka
    assert check_worker_partitions(SETTINGS, {"cdr": 8}) == (
        "CALLFLOOR_PARTITIONS=12 but topic cdr has 8 partitions; set CALLFLOOR_PARTITIONS=8"
    )


@dataclass
class Pipeline:
    assigned: set[int] = field(default_factory=set)
    seeded: set[int] = field(default_factory=set)

    def exported_partitions(self) -> set[int]:
        return self.assigned & self.seeded


def tps(*partitions: int, topic: str = "cdr") -> set:
    return {TP(topic, p) for p in partitions}


def readiness(pipeline: Pipeline, clickhouse_error: Exception | None = None) -> Readiness:
    def ping() -> None:
        if clickhouse_error is not None:
            raise clickhouse_error

    return Readiness(SimpleNamespace(rebalancing=False), pipeline, ClickHouseProbe(ping, every_s=0), "cdr")


def verdict(r: Readiness) -> tuple[bool, dict]:
    return asyncio.run(r.check())


def test_not_ready_before_joining_the_group() -> None:
    ready, body = verdict(readiness(Pipeline()))
    assert not ready and "not joined" in body["reason"]


def test_not_ready_while_assigned_partitions_are_unseeded_or_a_rebalance_runs() -> None:
    pipeline = Pipeline()
    r = readiness(pipeline)
    r.on_assigned(tps(0, 1) | tps(0, topic="other"))
    assert not verdict(r)[0] and "not yet taken over" in verdict(r)[1]["reason"]
    pipeline.assigned = {0, 1}
    pipeline.seeded = {0}
    ready, body = verdict(r)
    assert not ready and body["reason"] == "partitions [1] not yet seeded from ClickHouse"
    pipeline.seeded = {0, 1}
    assert verdict(r) == (True, {"assigned": [0, 1], "seeded": [0, 1], "ready": True})
    r.app.rebalancing = True
    assert verdict(r)[1]["reason"] == "rebalance in progress"


def test_not_ready_when_clickhouse_does_not_answer() -> None:
    r = readiness(Pipeline(), clickhouse_error=ConnectionRefusedError("refused"))
    r.on_assigned(tps())
    ready, body = verdict(r)
    assert not ready and body["reason"] == "ClickHouse not reachable: ConnectionRefusedError: refused"


def test_a_worker_given_no_partition_is_a_ready_hot_spare() -> None:
    r = readiness(Pipeline())
    r.on_assigned(tps())
    ready, body = verdict(r)
    assert ready and "hot spare" in body["note"]
