"""The cluster form of the DDL (CALLFLOOR_CLICKHOUSE_CLUSTER): derived from the single-server
statements, parsed by the real ClickHouse parser (chdb's EXPLAIN AST), sharded by call_id,
and the only form `callfloor migrate` applies on a cluster (payroll applies none)."""

from __future__ import annotations

import re

import chdb
import pytest

from schemas.settings import Settings
from sinks.clickhouse.cluster import (
    CLIENT_SETTINGS,
    SHARDED_PATH,
    ClusterDDLError,
    create_database,
    on_cluster,
)
from sinks.clickhouse.ddl import EXACT_CALLS
from sinks.clickhouse.schema_version import SchemaNotReady, schema_statements, wanted_version
from tests.unit.cluster_recording import CLUSTER_SETTINGS, CREATED, applied_on_cluster, payroll_commands

SINGLE = schema_statements(CLUSTER_SETTINGS)
CLUSTER = on_cluster(SINGLE, "floor", "callfloor")
HEAD = re.compile(r"^(?:CREATE|ALTER) [A-Z ]+? `?(\w+)`? ON CLUSTER 'floor'(?:[ (]|$)")


def columns(statement: str) -> str:
    return statement[statement.index("(") : statement.index(") ENGINE")]


def by_name(statements: list[str]) -> dict[str, str]:
    return {m[1]: s for s in statements if (m := CREATED.match(s))}


@pytest.mark.parametrize("statement", [*CLUSTER, create_database("callfloor", "floor")])
def test_every_cluster_statement_parses_as_clickhouse_sql(statement: str) -> None:
    chdb.query(f"EXPLAIN AST {statement}", "CSV")  # raises on a syntax error


def test_a_syntax_error_is_caught_by_the_parser_check() -> None:
    with pytest.raises(Exception, match="Syntax error"):
        chdb.query("EXPLAIN AST CREATE TABLE t ON CLUSTER 'floor' (a String ENGINE = Log", "CSV")


def test_every_statement_migrate_applies_in_cluster_mode_is_on_cluster() -> None:
    applied_by = applied_on_cluster()
    backfill = [s for s in applied_by["apply_schema"] if s.startswith("INSERT INTO call_corrected")]
    assert len(backfill) == 1, "a database without call_corrected gets it filled once"
    applied_by["apply_schema"].remove(backfill[0])
    assert applied_by["apply_schema"][1:] == CLUSTER, "the database, then every table and view"
    for path, applied in applied_by.items():
        for statement in applied:
            assert HEAD.match(statement), f"{path} applied a statement without ON CLUSTER: {statement[:150]}"


def test_payroll_applies_no_ddl_and_refuses_an_unmigrated_schema() -> None:
    assert payroll_commands(wanted_version(CLUSTER_SETTINGS)) == [], "payroll's user needs no DDL grant"
    with pytest.raises(SchemaNotReady, match="run `callfloor migrate`"):
        payroll_commands("0123456789abcdef")


def test_every_mergetree_in_cluster_mode_is_replicated() -> None:
    for path, applied in applied_on_cluster().items():
        engines = [e for s in applied for e in re.findall(r"ENGINE\s*=\s*(\w+)", s)]
        assert "Distributed" in engines and any(e.endswith("MergeTree") for e in engines), path
        plain = [e for e in engines if e.endswith("MergeTree") and not e.startswith("Replicated")]
        assert plain == [], f"{path}: not replicated: {plain}"
        assert set(engines) <= {"Distributed"} | {e for e in engines if e.startswith("Replicated")}


def test_every_call_table_is_sharded_by_call_id_behind_a_distributed_table_of_the_same_name() -> None:
    tables = by_name(CLUSTER)
    call_tables = [
        name for name, s in tables.items()
        if re.search(r"\bcall_id\b", s.split(" FROM ")[0]) and "ENGINE = Replicated" in s
    ]  # fmt: skip
    assert sorted(call_tables) == [
        "call_corrected_local", "call_partitions_local", "call_versions_local", "calls_local"
    ]  # fmt: skip
    for local in call_tables:
        table = local.removesuffix("_local")
        assert "Replicated" in tables[local] and f"('{SHARDED_PATH}'" in tables[local]
        distributed = f"Distributed('floor', 'callfloor', '{local}', cityHash64(call_id))"
        # every version of a call must hash to one shard: the key uses call_id only
        assert tables[table].endswith(f"AS {local} ENGINE = {distributed}"), table
    keys = re.findall(r"ENGINE = Distributed\('floor', 'callfloor', '\w+', (.*)\)$", "\n".join(CLUSTER), re.M)
    assert keys == ["cityHash64(call_id)"] * 4, "every Distributed table shards by call_id"
    for table in ("calls", "call_partitions"):
        single = next(s for s in SINGLE if f"EXISTS {table} (" in s)
        assert columns(tables[f"{table}_local"]) == columns(single), "exactly the single-server columns"
    assert ", rank)" in tables["calls_local"], "ReplacingMergeTree keeps its version column"


def test_call_versions_is_typed_from_the_local_calls_and_fed_by_a_view_on_each_shard() -> None:
    tables = by_name(CLUSTER)
    assert re.search(r"\) EMPTY AS SELECT call_id, .* FROM calls_local$", tables["call_versions_local"], re.S)
    mv = tables["call_versions_mv"]
    assert mv.startswith("CREATE MATERIALIZED VIEW IF NOT EXISTS call_versions_mv ON CLUSTER 'floor' "
                         "TO call_versions_local AS SELECT ")  # fmt: skip
    assert mv.endswith(" FROM calls_local"), "the view must see every insert a shard receives"


@pytest.mark.parametrize("view", ["call_versions_mv", "call_corrected_mv"])
def test_each_materialized_view_reads_the_local_calls_into_a_local_table(view: str) -> None:
    mv = by_name(CLUSTER)[view]
    target = view.removesuffix("_mv")
    assert f" ON CLUSTER 'floor' TO {target}_local AS SELECT " in mv
    single = next(s for s in SINGLE if f"VIEW IF NOT EXISTS {view} " in s)
    single_select = single.split("AS SELECT ")[1].strip()
    assert mv.split(" AS SELECT ")[1] == single_select.replace("FROM calls", "FROM calls_local")


def test_small_tables_are_whole_on_every_node_and_views_run_on_cluster() -> None:
    tables = by_name(CLUSTER)
    for name in ("targets", "target_versions", "payroll_closes", "payroll_paid"):
        assert "('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}')" in tables[name], name
        assert f"{name}_local" not in tables and "Distributed" not in tables[name]
    views = [s for s in CLUSTER if re.match(r"CREATE (OR REPLACE )?VIEW", s)]
    assert len(views) == 3 and all("ON CLUSTER 'floor' AS" in v and "FROM calls FINAL" in v for v in views)


def test_a_statement_without_a_cluster_form_is_refused_by_name() -> None:
    refused = [
        "DROP TABLE calls",
        "CREATE TABLE IF NOT EXISTS copy ENGINE = MergeTree ORDER BY call_id AS SELECT * FROM calls",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS m TO call_versions AS SELECT call_id FROM targets",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS m ENGINE = MergeTree ORDER BY a AS SELECT a FROM calls",
    ]
    for statement in refused:
        with pytest.raises(ClusterDDLError, match=re.escape(statement[:20])):
            on_cluster([statement], "floor", "callfloor")


def test_an_alter_of_a_sharded_table_changes_its_shards_and_its_distributed_front() -> None:
    out = on_cluster(["ALTER TABLE calls ADD COLUMN IF NOT EXISTS x UInt8"], "floor", "callfloor")
    assert out == ["ALTER TABLE calls_local ON CLUSTER 'floor' ADD COLUMN IF NOT EXISTS x UInt8",
                   "ALTER TABLE calls ON CLUSTER 'floor' ADD COLUMN IF NOT EXISTS x UInt8"]  # fmt: skip
    assert on_cluster(["ALTER TABLE targets DELETE WHERE 1"], "floor", "db") == [
        "ALTER TABLE targets ON CLUSTER 'floor' DELETE WHERE 1"
    ]


def test_cluster_clients_insert_synchronously_and_join_shard_locally() -> None:
    assert CLIENT_SETTINGS == {"insert_distributed_sync": 1, "distributed_product_mode": "local",
                               "insert_quorum": "auto", "select_sequential_consistency": 1}  # fmt: skip
    assert Settings().clickhouse_cluster == "", "one server unless configured"
    assert create_database("callfloor", "") == "CREATE DATABASE IF NOT EXISTS `callfloor`"


def test_no_subquery_of_an_exact_read_relies_on_final() -> None:
    """On a cluster a subquery is rewritten to the shard's local table, and before ClickHouse
    25.3.3.42 that rewrite dropped its FINAL (#77996): the winners come from max(rank)."""
    subqueries = re.findall(r"\(\s*(SELECT\b[^()]*(?:\([^()]*\)[^()]*)*)\)", EXACT_CALLS)
    assert subqueries and all("FINAL" not in s for s in subqueries), subqueries
    assert "max(rank)" in EXACT_CALLS and EXACT_CALLS.startswith("calls FINAL ")
