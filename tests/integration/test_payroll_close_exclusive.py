"""``payroll close`` is exclusive and idempotent, on the real ClickHouse engine: of closes of
one month started together exactly one writes; a close that died gives the month up after
its claim goes stale; a second close of a closed month writes nothing."""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from deploy.local.processes import callfloor_command
from schemas.settings import Settings
from schemas.targets import parse_targets
from sinks.clickhouse.client import connect
from sinks.clickhouse.payroll_claims import CLAIM_STALE_S, CLAIMS, CloseRefused, claim_month
from sinks.clickhouse.payroll_ddl import CLOSES, PAID
from sinks.clickhouse.schema_version import migrate
from sinks.clickhouse.targets import record_targets
from tests.integration.test_payroll import TARGETS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "deploy" / "payroll.example.yaml"
INPUTS = ROOT / "deploy" / "payroll-inputs.example"
ROUNDS = 8


@pytest.fixture
def migrated(settings: Settings) -> Settings:
    """The schema, and a targets version in force before October ends (payroll refuses a month
    without one when the plan uses targets)."""
    migrate(settings)
    with connect(settings) as client:
        record_targets(client, parse_targets(TARGETS, "targets.yaml"), datetime(2026, 9, 30, tzinfo=UTC))
    return settings


def together(*calls) -> list[object]:  # noqa: ANN002 - zero-argument callables
    """Run ``calls`` in threads released at one instant; each one's result or exception."""
    start = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def claim_as(settings: Settings, month: date, claimant: str):  # noqa: ANN201
    def claim() -> str:
        with connect(settings) as client:  # each contender its own session, as two processes
            claim_month(client, month, claimant)
        return claimant

    return claim


def test_of_claims_made_together_exactly_one_wins(migrated: Settings) -> None:
    for n in range(ROUNDS):
        month = date(2025, 1 + n, 1)
        outcomes = together(claim_as(migrated, month, "a"), claim_as(migrated, month, "b"))
        kinds = Counter(type(o).__name__ for o in outcomes)
        assert kinds == Counter({"str": 1, "CloseRefused": 1}), outcomes
        refused = next(o for o in outcomes if isinstance(o, CloseRefused))
        assert f"{month:%Y-%m} is being closed by another `payroll close`" in str(refused)


def test_a_stale_claim_is_taken_over_by_one_close(migrated: Settings, ch_client: Client) -> None:
    month, db = date(2024, 3, 1), migrated.clickhouse_database
    ch_client.command(
        f"INSERT INTO `{db}`.{CLAIMS} (month, claimant, after, claimed_at) "
        f"SELECT toDate('2024-03-01'), 'died', '', now64(3) - INTERVAL {CLAIM_STALE_S + 60} SECOND"
    )
    outcomes = together(claim_as(migrated, month, "c"), claim_as(migrated, month, "d"))
    assert Counter(type(o).__name__ for o in outcomes) == Counter({"str": 1, "CloseRefused": 1}), outcomes
    with pytest.raises(CloseRefused):  # the new claim is fresh: nobody else now
        claim_as(migrated, month, "e")()


def payroll_close(settings: Settings, month: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        callfloor_command("payroll", "close", "--month", month, "--plan", str(PLAN), "--inputs", str(INPUTS)),
        env={**settings.to_env(), "PATH": "/usr/bin:/bin"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def test_two_closes_of_a_month_started_together_write_it_once(migrated: Settings, ch_client: Client) -> None:
    db = migrated.clickhouse_database
    closes = [payroll_close(migrated, "2026-10") for _ in range(2)]
    done = [(p.wait(120), *p.communicate()) for p in closes]
    codes = sorted(code for code, _, _ in done)
    assert codes == [0, 2], done
    refused = next(err for code, _, err in done if code == 2)
    assert "being closed by another" in refused or "already closed" in refused, refused
    assert ch_client.command(f"SELECT count() FROM `{db}`.{CLOSES}") == 1
    paid = ch_client.query(f"SELECT person, count() FROM `{db}`.{PAID} GROUP BY person").result_rows
    assert paid and all(count == 1 for _, count in paid), paid

    again = payroll_close(migrated, "2026-10")
    code, _, err = again.wait(120), *again.communicate()
    assert code == 2 and "already closed" in err, err
    assert ch_client.command(f"SELECT count() FROM `{db}`.{CLOSES}") == 1
    assert ch_client.command(f"SELECT count() FROM `{db}`.{PAID}") == len(paid)
