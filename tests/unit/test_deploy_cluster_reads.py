"""In cluster mode every read, insert and view names a table the cluster DDL creates: the
SQL each read function sends is recorded (no server) and its table names looked up."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sinks.clickhouse import payroll_closes, payroll_reads, reads, targets
from sinks.clickhouse.ddl import CALLS_TABLE, PARTITIONS_TABLE
from tests.unit.cluster_recording import CREATED, RecordingClient, applied_on_cluster

DAY, AT, ZONE = date(2026, 3, 1), datetime(2026, 3, 31, tzinfo=UTC), ZoneInfo("Asia/Shanghai")
RECORD = payroll_closes.CloseRecord(DAY, "plan", 1, "sha", "text", "targets", AT, "{}", "{}")

READS: dict[str, Callable[[RecordingClient], object]] = {
    "report_rows": lambda c: [reads.report_rows(c, DAY, DAY, by) for by in ("rep", "team", "campaign")],
    "partition_calls": lambda c: list(reads.partition_calls(c, 3, DAY)),
    "month_to_date": lambda c: reads.month_to_date(c, DAY, DAY),
    "campaign_abandons": lambda c: reads.campaign_abandons(c, DAY),
    "read_month": lambda c: [
        payroll_reads.read_month(c, DAY, ZONE), payroll_reads.read_month(c, DAY, ZONE, targets_version="t")
    ],
    "call_versions": lambda c: [
        payroll_reads.call_versions(c, DAY, ["r"]), payroll_reads.call_versions(c, DAY, ["r"], after=AT)
    ],
    "closes": lambda c: payroll_closes.closes(c, DAY),
    "paid_for": lambda c: payroll_closes.paid_for(c, DAY),
    "late_versions": lambda c: payroll_closes.late_versions(c, DAY, DAY, AT),
    "newest_arrival": lambda c: payroll_closes.newest_arrival(c),
    "targets_in_force": lambda c: [targets.targets_in_force(c, AT, zone=ZONE), targets.version_rows(c, "t")],
    "list_versions": lambda c: targets.list_versions(c),
    "record_close": lambda c: payroll_closes.record_close(c, RECORD, [(DAY, "r", 1)]),
}

_NAMED = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_]\w*)")
_CTE = re.compile(r"\b(\w+) AS \(\s*SELECT\b")


def names_read(sql: str) -> set[str]:
    """Tables and views a statement reads (CTE names are the statement's own)."""
    return set(_NAMED.findall(sql)) - set(_CTE.findall(sql))


def cluster_names() -> set[str]:
    return {m[1] for s in applied_on_cluster()["apply_schema"] if (m := CREATED.match(s))}


def test_the_name_extraction_sees_tables_and_skips_subqueries_and_ctes() -> None:
    sql = "WITH a AS (SELECT x FROM calls FINAL) SELECT * FROM a JOIN targets AS t ON 1 WHERE y IN (SELECT 1)"
    assert names_read(sql) == {"calls", "targets"}


def test_every_read_names_a_table_or_view_that_exists_in_cluster_mode() -> None:
    existing = cluster_names()
    for name, read in READS.items():
        client = RecordingClient(rows=[(None, 0)] if name == "newest_arrival" else [])
        read(client)
        sent = client.queries + [f"FROM {table}" for table in client.inserted]
        assert sent, f"{name} sent nothing: the check would pass vacuously"
        for sql in sent:
            missing = names_read(sql) - existing
            assert not missing, f"{name} reads {missing}, which cluster mode does not create: {sql[:200]}"


def test_the_writer_inserts_into_the_sharded_fronts() -> None:
    existing = cluster_names()
    assert {CALLS_TABLE, PARTITIONS_TABLE, f"{CALLS_TABLE}_local"} <= existing


def test_every_view_reads_only_what_was_created_before_it() -> None:
    created: set[str] = set()
    for statement in applied_on_cluster()["apply_schema"]:
        if m := CREATED.match(statement):
            assert names_read(statement) <= created, f"{m[1]} reads {names_read(statement) - created}"
            created.add(m[1])
    assert {"rep_day", "rep_hour", "payroll_rep_month", "call_versions_mv"} <= created
