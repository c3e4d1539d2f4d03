"""In cluster mode every client session carries the settings the cluster DDL relies on
(synchronous Distributed inserts, shard-local IN, quorum writes and sequentially consistent
reads), checked on the real ClickHouse engine."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from chdb import session as chdb_session

from schemas.cdr import parse_cdr
from schemas.kpis import counters
from schemas.settings import Settings
from sinks.clickhouse.calls import COLUMNS, call_row
from sinks.clickhouse.client import connect
from sinks.clickhouse.cluster import on_cluster
from sinks.clickhouse.ddl import EXACT_CALLS
from sinks.clickhouse.schema_version import schema_statements
from tests.chaos.cdrs import cdr, encode
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

QUERY = ("SELECT getSetting('insert_distributed_sync'), getSetting('distributed_product_mode'),"
         " toString(getSetting('insert_quorum')), getSetting('select_sequential_consistency')")


def test_cluster_clients_carry_the_distributed_settings(settings: Settings) -> None:
    with connect(settings.model_copy(update={"clickhouse_cluster": "floor"}), database="") as client:
        assert client.query(QUERY).result_rows == [(1, "local", "auto", 1)]
    with connect(settings, database="") as client:
        assert client.query(QUERY).result_rows == [(0, "deny", "0", 0)], "one server: ClickHouse's defaults"


# --- the cluster DDL run for real on one node ------------------------------------------------
# chdb treats a remote_servers host as itself when its config sets that host's tcp_port, so the
# Distributed tables, the materialized views on the local tables and EXACT_CALLS through
# Distributed run here on one local shard. What cannot run here is replaced, visibly: no Keeper
# (Replicated* engines become their plain form) and no DDL worker (ON CLUSTER is dropped).
CLUSTER_CONFIG = """<clickhouse>
  <tcp_port>{port}</tcp_port>
  <remote_servers><floor><shard><internal_replication>true</internal_replication>
    <replica><host>localhost</host><port>{port}</port></replica>
  </shard></floor></remote_servers>
  <macros><shard>1</shard><replica>r1</replica></macros>
</clickhouse>
"""
_REPLICATED = re.compile(r"Replicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?")


def runnable_on_one_node(statement: str) -> str:
    return _REPLICATED.sub(r"\1(", statement.replace(" ON CLUSTER 'floor'", ""))


def json_rows(rows: list[tuple]) -> str:
    def value(v: object) -> object:
        if isinstance(v, datetime):
            return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        if isinstance(v, (date, Decimal)):
            return str(v)
        return v

    return "\n".join(orjson.dumps({c: value(v) for c, v in zip(COLUMNS, row, strict=True)}).decode()
                     for row in rows)  # fmt: skip


def calls_rows(zone: ZoneInfo) -> list[tuple]:
    """A duplicate, a correction that moves a call to another month and rep, a sale."""
    day = datetime(2026, 11, 3, 10, tzinfo=UTC)
    events = [
        (cdr("c1", day, rep="rep-a"), 0), (cdr("c1", day, rep="rep-a"), 1),  # a redelivered copy
        (cdr("c2", day, rep="rep-a", shape="connect"), 2),
        (cdr("c2", day - timedelta(days=10), version=2, rep="rep-b", shape="sale"), 3),  # to October
        (cdr("c3", day + timedelta(hours=1), rep="rep-b", shape="sale"), 4),
    ]  # fmt: skip
    rows = []
    for event, offset in events:
        call = parse_cdr(encode(event), now=day + timedelta(days=1))
        rows.append(call_row(call, counters(call, 30), 0, offset, zone))
    return rows


def test_the_cluster_ddl_runs_on_one_chdb_node_and_counts_as_one_server(tmp_path: Path) -> None:
    settings = Settings(clickhouse_cluster="floor", clickhouse_database="clustered")
    config = tmp_path / "config.xml"
    config.write_text(CLUSTER_CONFIG.format(port=free_port()))
    engine = chdb_session.Session(f"{tmp_path / 'data'}?config-file={config}")
    try:
        local = engine.query("SELECT is_local FROM system.clusters WHERE cluster = 'floor'", "TSV").bytes()
        assert local == b"1\n", "chdb must take the cluster's one host for itself"
        single = schema_statements(settings)
        forms = (("single", single), ("clustered", on_cluster(single, "floor", "clustered")))
        for database, statements in forms:
            engine.query(f"CREATE DATABASE {database}")
            engine.query(f"USE {database}")
            for statement in statements:
                engine.query(runnable_on_one_node(statement))
            engine.query(f"INSERT INTO {database}.calls ({', '.join(COLUMNS)})"
                         " SETTINGS insert_distributed_sync = 1"
                         f" FORMAT JSONEachRow\n{json_rows(calls_rows(settings.zone))}")  # fmt: skip

        def read(sql: str) -> bytes:
            return engine.query(f"{sql} SETTINGS distributed_product_mode = 'local'", "TSV").bytes()

        engines = read("SELECT name, engine FROM system.tables WHERE database = 'clustered' AND name IN"
                       " ('calls', 'calls_local', 'call_versions', 'call_corrected') ORDER BY name").decode()
        assert engines.split("\n")[:4] == ["call_corrected\tDistributed", "call_versions\tDistributed",
                                           "calls\tDistributed", "calls_local\tReplacingMergeTree"], engines
        by_day = ("SELECT business_day, rep_id, dials, connects, sales, revenue_cents"
                  " FROM {db}.rep_day ORDER BY 1, 2")
        one, clustered = (read(by_day.format(db=db)).decode() for db in ("single", "clustered"))
        assert clustered == one
        assert clustered.splitlines() == ["2026-10-24\trep-b\t1\t1\t1\t129900",
                                          "2026-11-03\trep-a\t1\t1\t0\t0",
                                          "2026-11-03\trep-b\t1\t1\t1\t129900"], clustered  # fmt: skip
        exact = f"SELECT count(), uniqExact(call_id) FROM clustered.{EXACT_CALLS}"
        assert read(exact) == b"3\t3\n"
        versions = read("SELECT count() FROM clustered.call_versions_local")
        assert versions == b"5\n", "the view fires once per inserted row, on the local table"
        assert read("SELECT call_id FROM clustered.call_corrected_local") == b"c2\n"
        month = "SELECT month, rep_id, dials, sales FROM {db}.payroll_rep_month ORDER BY 1, 2"
        assert read(month.format(db="clustered")) == read(month.format(db="single"))
    finally:
        engine.close()
