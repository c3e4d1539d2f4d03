"""/healthz and /readyz on a real worker, against the real broker and ClickHouse engine:
alive at once; ready only once it holds its partitions seeded and ClickHouse answers;
unready, with the reason, when ClickHouse goes away, while still alive."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from schemas.settings import Settings
from sinks.clickhouse.schema_version import migrate
from streams.topics import ensure_topics
from tests.support.health import probe
from tests.support.processes import ClickHouseProcess, running_worker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "compose.yaml"


def compose_healthcheck(port: int) -> int:
    """Exit code of the worker health check exactly as compose.yaml runs it, on ``port``."""
    argv = yaml.safe_load(COMPOSE.read_text())["services"]["worker"]["healthcheck"]["test"]
    assert argv[:2] == ["CMD", "python"]
    command = [sys.executable, *[arg.replace(":6066/", f":{port}/") for arg in argv[2:]]]
    return subprocess.run(command, capture_output=True, timeout=30).returncode


def test_ready_only_with_partitions_seeded_and_clickhouse_answering(
    settings: Settings, tmp_path: Path, logs_dir: Path
) -> None:
    own_clickhouse = ClickHouseProcess(tmp_path / "ch", logs_dir / "health-clickhouse.log")
    settings = settings.model_copy(update={"clickhouse_url": own_clickhouse.url})
    ensure_topics(settings)
    port = settings.web_port
    seen: list[tuple[int, dict]] = []

    def answered(path: str, status: int) -> bool:
        got = probe(port, path)
        if got is not None:
            seen.append(got)
        return got is not None and got[0] == status

    try:
        with running_worker(settings, logs_dir / "worker-health.log", migrate=False):
            # ClickHouse not started yet: alive, not ready
            wait_for(lambda: answered("/healthz", 200), 60, "/healthz to answer 200")
            wait_for(lambda: answered("/readyz", 503), 30, "/readyz to answer 503")
            status, body = probe(port, "/readyz") or (0, {})
            assert status == 503 and body["ready"] is False and body["reason"], body

            own_clickhouse.start()
            # up, but nothing migrated: the worker creates nothing and says what to run
            def reason() -> str:
                return (probe(port, "/readyz") or (0, {}))[1].get("reason", "")

            wait_for(lambda: "schema not migrated" in reason(), 30, "/readyz to name the missing migration")
            assert "callfloor migrate" in reason()
            migrate(settings)
            wait_for(lambda: answered("/readyz", 200), 90, "/readyz to answer 200 once migrated")
            status, body = probe(port, "/readyz") or (0, {})
            assert status == 200, body
            assert body["assigned"] == body["seeded"] == list(range(settings.partitions)), body
            assert compose_healthcheck(port) == 0, "compose's health check passes on a ready worker"

            own_clickhouse.stop()
            wait_for(lambda: answered("/readyz", 503), 30, "/readyz to say 503 when ClickHouse stops")
            status, body = probe(port, "/readyz") or (0, {})
            assert status == 503 and "ClickHouse not reachable" in body["reason"], body
            assert probe(port, "/healthz") == (200, {"alive": True}), "alive while ClickHouse is away"
            assert compose_healthcheck(port) != 0, "compose's health check fails on an unready worker"
    finally:
        own_clickhouse.stop()
    reasons = {body.get("reason", "")[:40] for status, body in seen if status == 503}
    assert any("seeded" in r or "ClickHouse" in r for r in reasons), reasons
