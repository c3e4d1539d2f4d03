"""Targets history in the real ClickHouse engine: versions, the one in force, exact round trips."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from clickhouse_connect.driver.client import Client

from schemas.settings import Settings
from schemas.targets import TargetSet, parse_targets
from sinks.clickhouse.client import connect
from sinks.clickhouse.targets import (
    apply_target_schema,
    list_versions,
    record_targets,
    targets_in_force,
    version_in_force,
)

pytestmark = pytest.mark.integration

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
INJECTION = "x'); DROP TABLE targets; --"


def targets(text: str, source: str = "targets.yaml") -> TargetSet:
    return parse_targets(text.encode(), source)


A = targets("""\
version: 1
defaults: {daily: {dials: 200, talk_minutes: 60}, monthly: {revenue: "50000.00"}}
teams: {t1: {daily: {dials: 1000}}}
reps:
  rep-001: {team: t1}
  rep-002: {team: t1, daily: {dials: 0}, monthly: {revenue: "12345678.91"}}
""")
B = targets("""\
version: 1
reps:
  rep-001: {team: t1, daily: {dials: 250}}
""")


@pytest.fixture
def db(settings: Settings, ch_client: Client) -> Iterator[Client]:
    ch_client.command(f"CREATE DATABASE IF NOT EXISTS `{settings.clickhouse_database}`")
    client = connect(settings)
    apply_target_schema(client)
    apply_target_schema(client)  # idempotent: every worker runs it at start-up
    yield client
    client.close()


def test_same_file_recorded_twice_is_one_version(db: Client) -> None:
    assert record_targets(db, A, T0) is True
    assert record_targets(db, A, T0 + timedelta(seconds=3)) is False  # a second worker
    versions = list_versions(db)
    assert [(v.sha256, v.loaded_at, v.effective_from) for v in versions] == [(A.sha256, T0, None)]
    assert targets_in_force(db, T0) == A.rows()  # same order, same types, minutes as seconds


def test_in_force_before_between_and_after_a_change(db: Client) -> None:
    t1 = T0 + timedelta(hours=5)
    record_targets(db, A, T0)
    assert record_targets(db, B, t1) is True
    assert [v.sha256 for v in list_versions(db)] == [A.sha256, B.sha256]

    assert targets_in_force(db, T0 - timedelta(milliseconds=1)) == []
    assert version_in_force(db, T0 - timedelta(milliseconds=1)) is None
    assert targets_in_force(db, T0) == A.rows()
    assert targets_in_force(db, t1 - timedelta(milliseconds=1)) == A.rows()
    assert targets_in_force(db, t1) == B.rows()
    assert targets_in_force(db, t1 + timedelta(days=40)) == B.rows()
    rows = {r[1:5]: r[5] for r in targets_in_force(db, T0 + timedelta(hours=1))}
    assert rows[("rep-002", "t1", "month", "revenue")] == Decimal("12345678.91")
    assert rows[("rep-002", "t1", "day", "dials")] == 0
    assert rows[("t1", "t1", "day", "dials")] == 1000


def test_future_dated_file_counts_from_its_business_day(db: Client) -> None:
    future = targets("effective_from: 2026-11-01\n" + "version: 1\nreps: {rep-001: {team: t1}}\n")
    record_targets(db, A, T0)
    record_targets(db, future, T0 + timedelta(days=1))
    assert list_versions(db)[1].effective_from == date(2026, 11, 1)
    before = datetime(2026, 10, 31, 23, 30, tzinfo=SHANGHAI)
    at_midnight = datetime(2026, 11, 1, 0, 0, tzinfo=SHANGHAI)  # 2026-10-31 16:00 UTC
    assert version_in_force(db, before, zone=SHANGHAI).sha256 == A.sha256
    assert version_in_force(db, at_midnight, zone=SHANGHAI).sha256 == future.sha256
    # The business day decides, not UTC's date: in UTC that moment is still 31 October.
    assert version_in_force(db, at_midnight.astimezone(UTC)).sha256 == A.sha256


def test_a_file_put_back_is_a_new_version(db: Client) -> None:
    record_targets(db, A, T0)
    record_targets(db, B, T0 + timedelta(hours=1))
    assert record_targets(db, A, T0 + timedelta(hours=2)) is True
    assert [v.sha256 for v in list_versions(db)] == [A.sha256, B.sha256, A.sha256]
    assert targets_in_force(db, T0 + timedelta(hours=3)) == A.rows()
    assert targets_in_force(db, T0 + timedelta(minutes=90)) == B.rows()


def test_late_report_of_an_older_load_changes_nothing(db: Client) -> None:
    """A worker that loaded A before B was stored records it late: B stays in force."""
    record_targets(db, A, T0)
    record_targets(db, B, T0 + timedelta(hours=1))
    assert record_targets(db, A, T0 + timedelta(minutes=30)) is False
    assert targets_in_force(db, T0 + timedelta(hours=2)) == B.rows()


def test_ids_are_stored_as_text(db: Client) -> None:
    odd = targets(
        "version: 1\nreps:\n"
        "  'x''); DROP TABLE targets; --': {team: \"t'1\", daily: {dials: 7}}\n"
        "  'Zoë 北京': {team: \"t'1\", monthly: {revenue: '0.01'}}\n",
        source="/etc/callfloor/targets'; --.yaml",
    )
    assert odd.team_of(INJECTION) == "t'1"
    assert record_targets(db, odd, T0) is True
    assert targets_in_force(db, T0) == odd.rows()
    assert db.command("EXISTS TABLE targets") == 1
    assert list_versions(db)[0].source == "/etc/callfloor/targets'; --.yaml"


def test_empty_file_is_a_version_with_no_targets(db: Client) -> None:
    empty = targets("version: 1\n")
    record_targets(db, A, T0)
    assert record_targets(db, empty, T0 + timedelta(hours=1)) is True
    assert targets_in_force(db, T0 + timedelta(hours=2)) == []


def test_naive_times_are_refused(db: Client) -> None:
    with pytest.raises(ValueError, match="time zone"):
        record_targets(db, A, datetime(2026, 10, 20, 9, 0))
    with pytest.raises(ValueError, match="time zone"):
        targets_in_force(db, datetime(2026, 10, 20, 9, 0))
