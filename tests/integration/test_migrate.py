"""``callfloor migrate`` against the real ClickHouse engine: the schema is a step, not a side
effect of a worker starting. A worker against a database one schema version behind writes
nothing and is not ready, naming the reason, until ``callfloor migrate`` runs; then it
catches up. A second migrate changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from schemas.settings import Settings
from sinks.clickhouse.payroll_ddl import REP_MONTH_VIEW
from sinks.clickhouse.schema_version import SCHEMA_TABLE, migrate, schema_statements, wanted_version
from streams.topics import ensure_topics
from tests.chaos.cdrs import cdr, message
from tests.support.cli import callfloor
from tests.support.health import probe
from tests.support.kafka import lag, send_all
from tests.support.processes import running_worker
from tests.support.waiting import wait_for
from tests.unit.cluster_recording import CREATED

pytestmark = pytest.mark.integration


def tables(ch_client: Client, database: str) -> set[str]:
    return {name for (name,) in ch_client.query(
        "SELECT name FROM system.tables WHERE database = {d:String}", parameters={"d": database}
    ).result_rows}  # fmt: skip


def recorded(ch_client: Client, database: str) -> list[tuple[str, int]]:
    return [tuple(row) for row in ch_client.query(
        f"SELECT version, statements FROM `{database}`.{SCHEMA_TABLE} ORDER BY applied_at"
    ).result_rows]  # fmt: skip


def test_migrate_applies_once_and_a_second_run_is_a_no_op(settings: Settings, ch_client: Client) -> None:
    check = callfloor(settings, "migrate", "--check")
    assert check.returncode == 1 and "no schema version recorded" in check.stderr, check

    first = callfloor(settings, "migrate")
    assert first.returncode == 0, first.stderr
    version = wanted_version(settings)
    assert f"schema version {version} applied" in first.stdout and "was none" in first.stdout, first.stdout
    made = tables(ch_client, settings.clickhouse_database)
    assert {"calls", "call_corrected", "rep_day", "payroll_rep_month", SCHEMA_TABLE} <= made, made

    second = callfloor(settings, "migrate")
    assert second.returncode == 0 and "nothing to do" in second.stdout, second
    assert recorded(ch_client, settings.clickhouse_database) == [(version, len(schema_statements(settings)))]
    assert tables(ch_client, settings.clickhouse_database) == made
    assert callfloor(settings, "migrate", "--check").returncode == 0


def test_a_worker_one_version_behind_waits_until_migrate_runs(
    settings: Settings, ch_client: Client, worker_log: Path
) -> None:
    # The release before this one: its schema lacked today's last statement.
    older = schema_statements(settings)[:-1]
    missing = CREATED.match(schema_statements(settings)[-1])[1]  # what the older schema lacks
    behind = migrate(settings, older)
    assert behind.changed and behind.version != wanted_version(settings)
    ensure_topics(settings)
    at = datetime.now(UTC) - timedelta(hours=1)
    calls = [cdr(f"mig-{i}", at - timedelta(minutes=i), rep=f"mig-rep-{i % 4}") for i in range(40)]
    send_all(settings.kafka_bootstrap, settings.cdr_topic, [message(c) for c in calls])
    port = settings.web_port

    def reason() -> str:
        got = probe(port, "/readyz")
        return "" if got is None or got[0] != 503 else got[1].get("reason", "")

    with running_worker(settings, worker_log, migrate=False) as worker:
        said = wait_for(lambda: "schema not migrated" in reason() and reason(), 60,
                        "/readyz to name the schema version it waits for")  # fmt: skip
        assert f"at schema version {behind.version}" in said and wanted_version(settings) in said, said
        assert "callfloor migrate" in said, said
        wait_for(lambda: "retrying" in worker.log(), 30, "the worker to wait (retrying), not write")
        assert worker.alive(), "a worker facing an old schema waits; it does not exit"
        stored = ch_client.query(f"SELECT count() FROM `{settings.clickhouse_database}`.calls").result_rows
        assert stored == [(0,)], "the worker wrote before the schema was its own"
        made = tables(ch_client, settings.clickhouse_database)
        assert missing not in made, f"the worker ran DDL: {missing} exists"

        done = callfloor(settings, "migrate")
        assert done.returncode == 0 and f"was {behind.version}" in done.stdout, done

        wait_for(lambda: (probe(port, "/readyz") or (0,))[0] == 200, 60, "/readyz 200 once migrated")
        wait_for(lambda: lag(settings.kafka_bootstrap, settings.app_id, settings.cdr_topic) == 0, 60,
                 "the worker to store and commit what waited")  # fmt: skip
    stored = ch_client.query(
        f"SELECT uniqExact(call_id) FROM `{settings.clickhouse_database}`.calls"
    ).result_rows
    assert stored == [(len(calls),)]
    assert missing in tables(ch_client, settings.clickhouse_database), "migrate made what was missing"


def test_a_command_run_in_another_time_zone_names_the_zone_and_does_not_say_migrate(
    settings: Settings,
) -> None:
    """The version includes the business time zone (the payroll view ends a month at local
    midnight). A clerk's shell without the floor's CALLFLOOR_TIMEZONE (or one beside the demo,
    which picks its own zone) once read "run `callfloor migrate`", which would have moved the
    floor's zone under its running workers; it is told which zone the database was made for."""
    floor = settings.model_copy(update={"timezone": "Etc/GMT-10"})
    assert callfloor(floor, "migrate").returncode == 0
    elsewhere = floor.model_copy(update={"timezone": "Asia/Shanghai"})
    deploy = Path(__file__).resolve().parents[2] / "deploy"
    payroll = ("payroll", "run", "--month", "2026-11", "--plan", str(deploy / "payroll.example.yaml"),
               "--inputs", str(deploy / "payroll-inputs.example"))  # fmt: skip
    for args in (("migrate", "--check"), payroll):
        done = callfloor(elsewhere, *args)
        assert done.returncode != 0, done
        said = done.stderr
        assert "CALLFLOOR_TIMEZONE=Etc/GMT-10" in said and "Asia/Shanghai" in said, said
        assert "run `callfloor migrate`" not in said, said
    assert callfloor(floor, "migrate", "--check").returncode == 0  # nothing was changed
    # an older release's schema in the floor's zone: migrate, but in that zone
    migrate(floor, schema_statements(floor)[:-1])
    said = callfloor(elsewhere, "migrate", "--check").stderr
    assert "run `callfloor migrate` with CALLFLOOR_TIMEZONE=Etc/GMT-10" in said, said


def test_migrate_refuses_to_move_the_zone_unless_asked(settings: Settings, ch_client: Client) -> None:
    """Payroll's month ends at local midnight of the business zone, and the version includes
    it: a migrate from a shell with another CALLFLOOR_TIMEZONE used to re-make the payroll
    view in that zone under the running workers, silently moving calls between business days
    and pay months. It is refused (exit 2, both zones named) unless ``--change-timezone``."""
    floor = settings.model_copy(update={"timezone": "Etc/GMT-10"})
    assert callfloor(floor, "migrate").returncode == 0
    before = recorded(ch_client, settings.clickhouse_database)
    elsewhere = floor.model_copy(update={"timezone": "Asia/Shanghai"})

    refused = callfloor(elsewhere, "migrate")
    assert refused.returncode == 2, refused
    said = refused.stderr
    assert "made for CALLFLOOR_TIMEZONE=Etc/GMT-10" in said, said
    assert "runs with CALLFLOOR_TIMEZONE=Asia/Shanghai" in said, said
    assert "--change-timezone" in said and "Traceback" not in said, said
    assert recorded(ch_client, settings.clickhouse_database) == before, "a refused migrate wrote a version"
    assert callfloor(floor, "migrate", "--check").returncode == 0, "the floor's schema was changed"
    # an older release's schema in the floor's zone is refused too: the zone decides, not the version
    migrate(floor, schema_statements(floor)[:-1])
    assert callfloor(elsewhere, "migrate").returncode == 2
    assert callfloor(floor, "migrate").returncode == 0

    moved = callfloor(elsewhere, "migrate", "--change-timezone")
    assert moved.returncode == 0, moved
    assert f"schema version {wanted_version(elsewhere)} applied" in moved.stdout, moved.stdout
    assert callfloor(elsewhere, "migrate", "--check").returncode == 0
    view = ch_client.query(
        "SELECT create_table_query FROM system.tables WHERE database = {d:String} AND name = {n:String}",
        parameters={"d": settings.clickhouse_database, "n": REP_MONTH_VIEW},
    ).result_rows[0][0]
    assert "'Asia/Shanghai'" in view and "Etc/GMT-10" not in view, view
    # a worker or clerk still set to the old zone now waits, told the database's new zone
    stale = callfloor(floor, "migrate", "--check")
    assert stale.returncode == 1 and "made for CALLFLOOR_TIMEZONE=Asia/Shanghai" in stale.stderr, stale
    again = callfloor(elsewhere, "migrate")
    assert again.returncode == 0 and "nothing to do" in again.stdout, again
