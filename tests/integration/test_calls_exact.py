"""Every exact read counts a call once when a correction moves it to another month.

Versions go straight into the real ClickHouse engine (before and after forcing merges) and
every reader of ``EXACT_CALLS`` is checked: the report, the rep_day view, month to date,
campaign abandons, the partition seed and payroll's month read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from schemas.cdr import parse_cdr
from schemas.kpis import KPI_COUNTERS, counters
from schemas.settings import Settings
from sinks.clickhouse.calls import COLUMNS, call_row
from sinks.clickhouse.calls_layout import OLD_SUFFIX, migrate_calls, recreate_unpartitioned
from sinks.clickhouse.client import connect
from sinks.clickhouse.ddl import (
    CALLS_TABLE,
    EXACT_CALLS,
    PARTITIONS_TABLE,
    partition_key,
    unpartitioned,
)
from sinks.clickhouse.payroll_reads import read_month
from sinks.clickhouse.reads import (
    BEFORE_SINCE,
    campaign_abandons,
    campaign_abandons_after,
    month_to_date,
    partition_calls,
    report_rows,
)
from sinks.clickhouse.schema_version import apply_schema
from tests.factories import cdr_dict, encode

pytestmark = pytest.mark.integration
ZONE = ZoneInfo("Asia/Shanghai")
PARSED_AT = datetime(2026, 11, 5, tzinfo=UTC)  # the CDRs' dates are fixed: validate them as of then


def at(day: str) -> dict[str, str]:
    return {"dialed_at": f"{day}T10:00:00+08:00", "answered_at": f"{day}T10:00:12+08:00",
            "ended_at": f"{day}T10:01:12+08:00"}  # fmt: skip


CDRS = [  # (cdr, kafka offset)
    (cdr_dict(call_id="moved", **at("2026-10-31")), 1),
    (cdr_dict(call_id="moved", version=2, sale_amount="10.00", sold_price="10.00", **at("2026-11-01")), 5),
    (cdr_dict(call_id="stays", **at("2026-10-20")), 2),
    (cdr_dict(call_id="stays", version=2, sale_amount="20.00", sold_price="20.00", **at("2026-10-20")), 6),
    (cdr_dict(call_id="dup", **at("2026-10-21")), 3),
    (cdr_dict(call_id="dup", **at("2026-10-21")), 3),
    (cdr_dict(call_id="back", **at("2026-11-02")), 4),
    (cdr_dict(call_id="back", version=2, **at("2026-10-02")), 7),
    (cdr_dict(call_id="back", version=3, sale_amount="30.00", sold_price="30.00", **at("2026-11-03")), 8),
    (cdr_dict(call_id="back2", **at("2026-11-02")), 9),
    (cdr_dict(call_id="back2", version=2, sale_amount="40.00", sold_price="40.00", **at("2026-10-05")), 10),
]


def rows() -> list[tuple]:
    out = []
    for cdr, offset in CDRS:
        parsed = parse_cdr(encode(cdr), now=PARSED_AT)
        out.append(call_row(parsed, counters(parsed, 30), 0, offset, ZONE))
    return out


def insert(client: Client, table: str = CALLS_TABLE) -> None:
    """The rows and their call_partitions entries, as the writer stores them."""
    client.insert(table, rows(), column_names=COLUMNS)
    seen = [(0, row[0], row[COLUMNS.index("business_day")]) for row in rows()]
    client.insert(PARTITIONS_TABLE, seen, column_names=("kafka_partition", "call_id", "business_day"))


def check_reads(client: Client) -> None:
    october = report_rows(client, date(2026, 10, 1), date(2026, 10, 31), "rep")
    november = report_rows(client, date(2026, 11, 1), date(2026, 11, 30), "rep")
    assert sum(r["dials"] for r in october) == 3 and sum(r["dials"] for r in november) == 2
    assert sorted(r["revenue"] for r in november) == ["10.00", "30.00"]
    both = report_rows(client, date(2026, 10, 1), date(2026, 11, 30), "campaign")
    assert sum(r["dials"] for r in both) == 5
    view = client.query("SELECT sum(dials), sum(revenue_cents) FROM rep_day").result_rows[0]
    assert tuple(map(int, view)) == (5, 1299 * 100 * 1 + 2000 + 1000 + 3000 + 4000)
    assert month_to_date(client, date(2026, 11, 1), date(2026, 12, 1))["rep-1"][1] == 4000
    assert campaign_abandons(client, date(2026, 10, 1)) == {"camp-1": (0, 5)}
    seeded = list(partition_calls(client, 0, date(2026, 9, 1)))
    assert sorted(r[0] for r in seeded) == ["back", "back2", "dup", "moved", "stays"]
    assert all(r[5] == 0 for r in seeded)
    # seeding from November: back2's winner (October) is outside the window, known with no counts
    seeded = {r[0]: r for r in partition_calls(client, 0, date(2026, 11, 1))}
    assert sorted(seeded) == ["back", "back2", "moved"]
    assert seeded["back2"][4:] == (date(2026, 10, 5), BEFORE_SINCE) + (0,) * len(KPI_COUNTERS)
    assert seeded["back2"][1] == max(r[COLUMNS.index("rank")] for r in rows() if r[0] == "back2")
    nov = read_month(client, date(2026, 11, 1), ZONE)
    assert nov.activity[("rep-1", "team-a")].counters["revenue"] == 4000
    assert read_month(client, date(2026, 10, 1), ZONE).activity[("rep-1", "team-a")].counters["dials"] == 3


def test_a_correction_that_moves_a_call_to_another_month_counts_once(settings: Settings) -> None:
    with apply_schema(settings) as client:
        insert(client)
        check_reads(client)
        client.command(f"OPTIMIZE TABLE {CALLS_TABLE} FINAL")
        check_reads(client)


def test_every_windowed_read_touches_only_its_months(settings: Settings) -> None:
    """ClickHouse refuses (INDEX_NOT_USED) a read that cannot skip other months' partitions."""
    with apply_schema(settings) as client:
        insert(client)
        assert partition_key(client, CALLS_TABLE) == partition_key(client, PARTITIONS_TABLE)
        assert partition_key(client, CALLS_TABLE) == "toYYYYMM(business_day)"
    with connect(settings, query_settings={"force_index_by_date": 1}) as strict:
        november, december = date(2026, 11, 1), date(2026, 12, 1)
        assert sum(r["dials"] for r in report_rows(strict, november, date(2026, 11, 30), "rep")) == 2
        assert month_to_date(strict, november, december)["rep-1"][1] == 4000
        assert campaign_abandons(strict, november) == {"camp-1": (0, 2)}
        # the 24-hour window: calls dialed in the last 24 hours of 2026-11-03 (Asia/Shanghai)
        assert campaign_abandons_after(strict, datetime(2026, 11, 2, 16, 0, tzinfo=UTC)) == {"camp-1": (0, 1)}
        assert campaign_abandons_after(strict, datetime(2026, 11, 3, 16, 0, tzinfo=UTC)) == {}
        assert sorted(r[0] for r in partition_calls(strict, 0, november)) == ["back", "back2", "moved"]
        assert read_month(strict, november, ZONE).activity[("rep-1", "team-a")].counters["revenue"] == 4000
        view = strict.query("SELECT rep_id, dials FROM payroll_rep_month WHERE month = {m:Date}",
                            parameters={"m": november}).result_rows  # fmt: skip
        assert view == [("rep-1", 2)], "a payroll system reading one month reads that month only"
        days = "SELECT sum(dials) FROM rep_day WHERE business_day >= {d:Date}"
        assert strict.query(days, parameters={"d": november}).result_rows == [(2,)]
        with pytest.raises(DatabaseError, match="INDEX_NOT_USED"):  # the check can fail
            strict.query(f"SELECT count() FROM {EXACT_CALLS} AND rep_id = 'rep-1'")


def test_a_database_from_before_month_partitions_stays_exact_and_migrates(settings: Settings) -> None:
    with apply_schema(settings) as client:  # rebuild the old layout: no partitions, no call_corrected
        for view in ("call_corrected_mv", "call_versions_mv"):
            client.command(f"DROP VIEW {view}")
        client.command("DROP TABLE call_corrected")
        recreate_unpartitioned(client)
        insert(client)
        assert unpartitioned(client) == [CALLS_TABLE, PARTITIONS_TABLE]
    with apply_schema(settings) as client:  # what `callfloor migrate` does: call_corrected backfilled
        check_reads(client)
    assert migrate_calls(settings, say=lambda _: None) == [CALLS_TABLE, PARTITIONS_TABLE]
    with apply_schema(settings) as client:
        assert unpartitioned(client) == []
        check_reads(client)
        old = client.query(f"SELECT uniqExact(call_id) FROM {CALLS_TABLE}{OLD_SUFFIX}").result_rows
        assert old == [(5,)]
        client.insert(CALLS_TABLE, [rows()[7]], column_names=COLUMNS)  # the views fire on the new table
        assert client.command("SELECT count() FROM call_versions WHERE call_id = 'back'") == 1
    assert migrate_calls(settings, say=lambda _: None) == []
