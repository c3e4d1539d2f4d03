"""The cluster form of the DDL (CALLFLOOR_CLICKHOUSE_CLUSTER): derived from the single-server
statements, parsed by the real ClickHouse parser (chdb's EXPLAIN AST), sharded by call_id."""

from __future__ import annotations

import re

import chdb
import pytest

from schemas.settings import Settings
from sinks.clickhouse.cluster import (
    CLIENT_SETTINGS,
    ClusterDDLError,
    create_database,
    on_cluster,
)
from sinks.clickhouse.ddl import STATEMENTS

CLUSTER = on_cluster(STATEMENTS, "floor", "callfloor")


def columns(statement: str) -> str:
    return statement[statement.index("(") : statement.index(") ENGINE")]


@pytest.mark.parametrize("statement", [*CLUSTER, create_database("callfloor", "floor")])
def test_every_cluster_statement_parses_as_clickhouse_sql(statement: str) -> None:
    chdb.query(f"EXPLAIN AST {statement}", "CSV")  # raises on a syntax error


def test_a_syntax_error_is_caught_by_the_parser_check() -> None:
    with pytest.raises(Exception, match="Syntax error"):
        chdb.query("EXPLAIN AST CREATE TABLE t ON CLUSTER 'floor' (a String ENGINE = Log", "CSV")


def test_calls_are_sharded_by_call_id_behind_a_distributed_table_of_the_same_name() -> None:
    by_name = {name: s for s in CLUSTER for name in re.findall(r"^CREATE TABLE IF NOT EXISTS (\w+)", s)}
    for table in ("calls", "call_partitions"):
        local = by_name[f"{table}_local"]
        assert "ON CLUSTER 'floor'" in local
        assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}'" in local
        distributed = f"Distributed('floor', 'callfloor', '{table}_local', cityHash64(call_id))"
        # every version of a call must hash to one shard: the key uses call_id only
        assert by_name[table].endswith(f"AS {table}_local ENGINE = {distributed}")
        single = next(s for s in STATEMENTS if f"EXISTS {table} (" in s)
        assert columns(local) == columns(single), "the cluster table has exactly the single-server columns"
    assert "ReplicatedReplacingMergeTree(" in by_name["calls_local"] and ", rank)" in by_name["calls_local"]


def test_small_tables_are_whole_on_every_node_and_views_run_on_cluster() -> None:
    targets = next(s for s in CLUSTER if "EXISTS targets " in s)
    assert "('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}')" in targets
    views = [s for s in CLUSTER if re.match(r"CREATE (OR REPLACE )?VIEW", s)]
    assert len(views) == 2 and all("ON CLUSTER 'floor' AS" in v and "FROM calls FINAL" in v for v in views)


def test_a_statement_without_a_cluster_form_is_refused_by_name() -> None:
    with pytest.raises(ClusterDDLError, match="DROP TABLE calls"):
        on_cluster(["DROP TABLE calls"], "floor", "callfloor")


def test_an_alter_of_a_sharded_table_changes_its_shards_and_its_distributed_front() -> None:
    out = on_cluster(["ALTER TABLE calls ADD COLUMN IF NOT EXISTS x UInt8"], "floor", "callfloor")
    assert out == ["ALTER TABLE calls_local ON CLUSTER 'floor' ADD COLUMN IF NOT EXISTS x UInt8",
                   "ALTER TABLE calls ON CLUSTER 'floor' ADD COLUMN IF NOT EXISTS x UInt8"]  # fmt: skip


def test_cluster_clients_insert_synchronously_and_join_shard_locally() -> None:
    assert CLIENT_SETTINGS == {"insert_distributed_sync": 1, "distributed_product_mode": "local"}
    assert Settings().clickhouse_cluster == "", "one server unless configured"
    assert create_database("callfloor", "") == "CREATE DATABASE IF NOT EXISTS `callfloor`"


def test_cluster_mode_stops_before_touching_clickhouse_until_payroll_has_a_cluster_form() -> None:
    from schemas.settings import Settings
    from sinks.clickhouse.ddl import apply_schema

    with pytest.raises(ClusterDDLError, match="payroll's tables"):
        apply_schema(Settings(clickhouse_cluster="floor", clickhouse_url="http://127.0.0.1:9"))
