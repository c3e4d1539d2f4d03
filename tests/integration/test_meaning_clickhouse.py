"""In the real ClickHouse engine (chdb): sums that cannot wrap, DST hours that stay apart, and a
``callfloor report --format csv`` whose cells never run as formulas."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from clickhouse_connect.driver.client import Client

from deploy.cli import main
from schemas.cdr import DEFAULT_RULES, CdrRules, parse_cdr
from schemas.kpis import counters
from schemas.settings import Settings
from sinks.clickhouse.calls import Row, call_row
from sinks.clickhouse.client import connect
from sinks.clickhouse.ddl import _CALLS
from sinks.clickhouse.reads import month_to_date, report_rows
from sinks.clickhouse.schema_version import apply_schema
from sinks.clickhouse.writer import CallWriter
from tests.factories import cdr_dict, encode

pytestmark = pytest.mark.integration

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
TOP = "999999999999999.99"  # the schema's largest amount (just below 1e15)
WIDE_OPEN = CdrRules(max_amount=Decimal(TOP))


def rows_of(cdrs: list[dict], zone: ZoneInfo, rules: CdrRules = DEFAULT_RULES) -> list[Row]:
    rows = []
    for offset, data in enumerate(cdrs):
        cdr = parse_cdr(encode(data), now=NOW, rules=rules)
        rows.append(call_row(cdr, counters(cdr, 30), 0, offset, zone))
    return rows


def write(settings: Settings, rows: list[Row]) -> None:
    asyncio.run(CallWriter(lambda: connect(settings)).write(rows))


@pytest.fixture
def db(settings: Settings) -> Iterator[Client]:
    client = apply_schema(settings)
    yield client
    client.close()


def sale(call_id: str, dialed: str, amount: str, rep: str = "rep-1") -> dict:
    start = datetime.fromisoformat(dialed)
    return cdr_dict(
        call_id=call_id, rep_id=rep, dialed_at=dialed,
        answered_at=(start + timedelta(seconds=10)).isoformat(),
        ended_at=(start + timedelta(seconds=70)).isoformat(),
        sale_amount=amount, list_price=amount, sold_price=amount,
    )  # fmt: skip


def test_money_sums_at_the_schema_limit_are_exact(settings: Settings, db: Client) -> None:
    """200 sales of 999,999,999,999,999.99: an Int64 sum of cents would wrap (about -1.6e18)."""
    count = 200
    cdrs = [sale(f"big-{i}", "2026-11-01T10:00:00+08:00", TOP) for i in range(count)]
    write(settings, rows_of(cdrs, ZoneInfo("Asia/Shanghai"), WIDE_OPEN))
    exact_cents = count * int(Decimal(TOP) * 100)
    assert exact_cents > 2**63  # the test means something: the total does not fit an Int64
    exact = f"{exact_cents // 100}.{exact_cents % 100:02d}"

    [row] = report_rows(db, date(2026, 11, 1), date(2026, 11, 1), "rep")
    assert (row["sales"], row["revenue"]) == (count, exact)
    assert month_to_date(db, date(2026, 11, 1), date(2026, 12, 1)) == {"rep-1": (count, exact_cents, count)}
    view = db.query("SELECT sales, revenue_cents, list_cents, sold_cents FROM rep_day").result_rows
    assert [tuple(map(int, r)) for r in view] == [(count, exact_cents, exact_cents, exact_cents)]
    hourly = db.query("SELECT sum(revenue_cents) FROM rep_hour").result_rows
    assert int(hourly[0][0]) == exact_cents


def test_autumn_dst_hours_stay_apart_in_rep_hour(settings: Settings, db: Client) -> None:
    """2026-11-01 in New York: 01:00-02:00 EDT, then 01:00-02:00 EST again."""
    cdrs = [
        sale("edt-1", "2026-11-01T01:10:00-04:00", "10.00"),
        sale("edt-2", "2026-11-01T05:50:00Z", "20.00"),  # 01:50 EDT, written in UTC
        sale("est-1", "2026-11-01T01:10:00-05:00", "300.00"),
        sale("est-2", "2026-11-01T14:40:00+08:00", "4000.00"),  # 01:40 EST, written in Shanghai time
        sale("two", "2026-11-01T02:05:00-05:00", "50000.00"),
    ]
    write(settings, rows_of(cdrs, NEW_YORK))
    got = db.query(
        "SELECT business_hour, toString(hour_start), sales, revenue_cents FROM rep_hour"
        " WHERE business_day = '2026-11-01' ORDER BY hour_start"
    ).result_rows
    assert [(int(h), start, int(s), int(r)) for h, start, s, r in got] == [
        (1, "2026-11-01 05:00:00", 2, 3000),  # 01:00 EDT
        (1, "2026-11-01 06:00:00", 2, 430000),  # 01:00 EST, the repeated hour
        (2, "2026-11-01 07:00:00", 1, 5000000),
    ]
    [day] = report_rows(db, date(2026, 11, 1), date(2026, 11, 1), "rep")
    assert (day["sales"], day["revenue"]) == (5, "54330.00")  # the day still has all five


def test_half_hour_zones_keep_their_local_hour(settings: Settings, db: Client) -> None:
    """In Kolkata (+05:30) one local hour spans two UTC hours: it is still one bucket."""
    kolkata = ZoneInfo("Asia/Kolkata")
    cdrs = [sale("k-1", "2026-11-01T10:05:00+05:30", "1.00"),
            sale("k-2", "2026-11-01T10:55:00+05:30", "2.00")]  # fmt: skip
    write(settings, rows_of(cdrs, kolkata))
    got = db.query("SELECT business_hour, toString(hour_start), sales FROM rep_hour").result_rows
    assert [(int(h), start, int(s)) for h, start, s in got] == [(10, "2026-11-01 04:30:00", 2)]


def test_a_database_from_before_hour_start_is_upgraded(settings: Settings) -> None:
    """Start-up on an older ``calls`` (no hour_start, old views) adds the column and replaces the views."""
    with connect(settings, database="") as admin:
        admin.command(f"CREATE DATABASE IF NOT EXISTS `{settings.clickhouse_database}`")
    old_calls = "\n".join(line for line in _CALLS.splitlines() if "hour_start" not in line)
    with connect(settings) as old:
        old.command(old_calls)
        old.command("CREATE VIEW rep_hour AS SELECT business_day, business_hour, rep_id FROM calls")
        old.command(
            "INSERT INTO calls (call_id, version, rank, rep_id, team_id, campaign_id, direction, dialed_at,"
            " ended_at, business_day, business_hour, disposition, talk_seconds, wrap_seconds, currency,"
            " new_customer, dials, connects, valid_connects, counted_talk, counted_wrap, sales,"
            " revenue_cents, new_customers, abandoned, kafka_partition, kafka_offset) VALUES"
            " ('old-1', 1, 1, 'rep-1', 't', 'c', 'outbound', '2026-10-01 02:30:00', '2026-10-01 02:31:00',"
            " '2026-10-01', 10, 'busy', 0, 0, 'CNY', false, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)"
        )
    client = apply_schema(settings)
    try:
        got = client.query("SELECT business_hour, toString(hour_start), dials FROM rep_hour").result_rows
    finally:
        client.close()
    assert [(int(h), start, int(d)) for h, start, d in got] == [(10, "2026-10-01 02:00:00", 1)]


def test_report_csv_carries_no_live_formula(
    settings: Settings, db: Client, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = '=HYPERLINK("http://evil.example","pay")'
    cdrs = [sale("x-1", "2026-11-01T10:00:00+08:00", "12.50", rep=hostile) | {"team_id": "@team"},
            sale("x-2", "2026-11-01T10:05:00+08:00", "1.00", rep="-1+1") | {"campaign_id": "+c"}]  # fmt: skip
    write(settings, rows_of(cdrs, ZoneInfo(settings.timezone)))
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert main(["report", "--from", "2026-11-01", "--to", "2026-11-01", "--format", "csv"]) == 0
    assert capsys.readouterr().out.encode() == (
        b"business_day,rep_id,team_id,dials,connects,valid_connects,talk_seconds,wrap_seconds,"
        b"sales,revenue,new_customers,abandoned,outbound_connects,outbound_talk_seconds\r\n"
        b"2026-11-01,'-1+1,team-a,1,1,1,60,15,1,1.00,1,0,1,60\r\n"
        b'2026-11-01,"\'=HYPERLINK(""http://evil.example"",""pay"")",\'@team,1,1,1,60,15,1,12.50,1,0,1,60\r\n'
    )
