"""``callfloor topics create|describe`` against the real broker, and the worker's refusal
to start when CALLFLOOR_PARTITIONS disagrees with the CDR topic."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import orjson
import pytest

from deploy.local.processes import callfloor_command
from schemas.settings import Settings
from streams.topics import DAY_MS, TopicsError, ensure_topics
from tests.support.cli import callfloor
from tests.support.ports import free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def test_create_is_idempotent_and_describe_shows_the_documented_shape(settings: Settings) -> None:
    first = callfloor(settings, "topics", "create", "--retention-days", "3")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"{settings.cdr_topic}: created, {settings.partitions} partitions",
        f"{settings.dlq_topic}: created, 1 partition",
        f"{settings.snapshot_topic}: created, 1 partition",
    ]
    again = callfloor(settings, "topics", "create")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        f"{settings.cdr_topic}: exists, {settings.partitions} partitions",
        f"{settings.dlq_topic}: exists, 1 partition",
        f"{settings.snapshot_topic}: exists, 1 partition",
    ]
    described = callfloor(settings, "topics", "describe")
    assert described.returncode == 0, described.stderr
    cdr, dlq, snapshots = orjson.loads(described.stdout)
    assert (cdr["topic"], cdr["partitions"], cdr["replication_factor"]) == (settings.cdr_topic, 4, 1)
    assert cdr["configs"] == {"cleanup.policy": "delete", "retention.ms": str(3 * DAY_MS),
                              "min.insync.replicas": "1"}  # fmt: skip
    assert (dlq["partitions"], dlq["configs"]["retention.ms"]) == (1, str(30 * DAY_MS))
    assert (snapshots["partitions"], snapshots["configs"]["cleanup.policy"]) == (1, "compact")


def test_create_refuses_another_partition_count_than_exists(settings: Settings) -> None:
    ensure_topics(settings)  # 4 partitions
    fewer = callfloor(settings.model_copy(update={"partitions": 2}), "topics", "create")
    assert fewer.returncode == 2
    assert "has 4 partitions, more than the 2" in fewer.stderr and "CALLFLOOR_PARTITIONS=4" in fewer.stderr
    more = callfloor(settings.model_copy(update={"partitions": 6}), "topics", "create")
    assert more.returncode == 2 and "fewer than the 6" in more.stderr, more.stderr
    described = orjson.loads(callfloor(settings, "topics", "describe").stdout)
    assert described[0]["partitions"] == 4, "a refused create changed nothing"


def test_describe_says_a_topic_is_missing(settings: Settings) -> None:
    described = callfloor(settings, "topics", "describe")
    assert described.returncode == 0, described.stderr
    assert [t["exists"] for t in orjson.loads(described.stdout)] == [False, False, False]


def test_worker_refuses_to_start_on_a_partition_mismatch(settings: Settings, logs_dir: Path) -> None:
    ensure_topics(settings)  # 4 partitions
    done = callfloor(settings.model_copy(update={"partitions": 6}), "worker", timeout_s=120)
    assert done.returncode == 2
    assert f"CALLFLOOR_PARTITIONS=6 but topic {settings.cdr_topic} has 4 partitions" in done.stderr


def test_a_replication_factor_above_the_brokers_up_is_refused_not_shortened(settings: Settings) -> None:
    """CALLFLOOR_KAFKA_REPLICATION_FACTOR (or --replication-factor) is what topics get, or
    creation is refused naming the brokers up: one Tansu broker here, three asked for."""
    three = settings.model_copy(update={"kafka_replication_factor": 3})
    refused = callfloor(three, "topics", "create")
    assert refused.returncode == 2, refused.stderr
    assert ("CALLFLOOR_KAFKA_REPLICATION_FACTOR=3 but the Kafka cluster at "
            f"{settings.kafka_bootstrap} has 1 broker(s) up") in refused.stderr, refused.stderr
    assert "no topic was created" in refused.stderr and "Traceback" not in refused.stderr
    flag = callfloor(settings, "topics", "create", "--replication-factor", "2")
    assert flag.returncode == 2 and "--replication-factor=2 but" in flag.stderr, flag.stderr
    with pytest.raises(TopicsError, match="CALLFLOOR_KAFKA_REPLICATION_FACTOR=3"):
        ensure_topics(three)  # what the worker, wallboard, ingest and simulate run at start
    described = orjson.loads(callfloor(settings, "topics", "describe").stdout)
    assert [t["exists"] for t in described] == [False, False, False]

    one = settings.model_copy(update={"kafka_replication_factor": 1})
    created = callfloor(one, "topics", "create")
    assert created.returncode == 0, created.stderr
    cdr = orjson.loads(callfloor(one, "topics", "describe").stdout)[0]
    assert (cdr["replication_factor"], cdr["configs"]["min.insync.replicas"]) == (1, "1")


def test_worker_refuses_to_create_topics_with_too_few_brokers(settings: Settings) -> None:
    done = callfloor(settings.model_copy(update={"kafka_replication_factor": 2}), "worker", timeout_s=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "callfloor worker: CALLFLOOR_KAFKA_REPLICATION_FACTOR=2 but" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_broker_s_start_line_lists_every_topic_it_made(settings: Settings, tmp_path: Path) -> None:
    """``callfloor broker`` listed the CDR and DLQ topics from a hand-written line, not the
    wallboard's snapshot topic it also creates: its line is now what ensure_topics returned."""
    port = free_port()
    out = tmp_path / "broker.out"
    env = {**settings.to_env(), "PATH": "/usr/bin:/bin"}
    with out.open("wb") as sink:
        broker = subprocess.Popen(callfloor_command("broker", "--port", str(port)), stdout=sink,
                                  stderr=subprocess.STDOUT, env=env)  # fmt: skip
    try:
        line = wait_for(lambda: next((t for t in out.read_text().splitlines() if "Ctrl-C" in t), None), 60,
                        f"the broker's start line ({out})")  # fmt: skip
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait(timeout=30)
    topics = f"{settings.cdr_topic} ({settings.partitions} partitions), {settings.dlq_topic} (1 partition), "
    assert f"topics {topics}{settings.snapshot_topic} (1 partition). Ctrl-C" in line, line
