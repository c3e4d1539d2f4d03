"""The DDL for a ClickHouse cluster (``CALLFLOOR_CLICKHOUSE_CLUSTER``), derived from the
single-server DDL in ddl.py so that the two can never disagree on columns or order.

- ``calls`` and ``call_partitions`` are sharded: each becomes ``<name>_local``, a
  ``Replicated*MergeTree`` on every shard, behind a ``Distributed`` table of the old name
  sharded by ``cityHash64(call_id)``. Every version and copy of a call lands on one shard,
  where ``FINAL`` (which deduplicates only within a shard) keeps exactly one; and a call's
  ``call_partitions`` rows sit beside it, so the seeding read's ``IN`` runs shard-locally
  (``distributed_product_mode = 'local'``).
- every other table (targets) is small and replicated to every node whole (its Keeper path
  has no ``{shard}``), so it reads the same on any node.
- views are created ``ON CLUSTER`` unchanged: they read the ``Distributed`` tables.

Inserts into a ``Distributed`` table return only once every shard has the rows
(``insert_distributed_sync``), so the writer's acknowledgement still means stored.
The cluster needs ``{shard}`` and ``{replica}`` macros and ClickHouse Keeper, as usual.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SHARD_KEYS = {"calls": "cityHash64(call_id)", "call_partitions": "cityHash64(call_id)"}

# Keeper paths: a sharded table's replicas per shard; a whole table's replicas on every node
# (named shard-replica there, since replica macros often repeat from shard to shard).
SHARDED_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
WHOLE_PATH = "/clickhouse/tables/all/{database}/{table}"

# Settings every client session needs against a cluster (see the module docstring).
CLIENT_SETTINGS = {"insert_distributed_sync": 1, "distributed_product_mode": "local"}

_TABLE = re.compile(
    r"^\s*CREATE TABLE IF NOT EXISTS (?P<name>\w+)\s*\((?P<columns>.*)\)\s*"
    r"ENGINE\s*=\s*(?P<engine>\w*MergeTree)(?:\((?P<params>[^)]*)\))?(?P<rest>.*)$",
    re.S,
)
_VIEW = re.compile(
    r"^\s*(?P<create>CREATE VIEW IF NOT EXISTS|CREATE OR REPLACE VIEW) (?P<name>\w+) AS\b(?P<body>.*)$", re.S
)

_ALTER = re.compile(r"^\s*ALTER TABLE (?P<name>\w+) (?P<change>.*)$", re.S)


class ClusterDDLError(ValueError):
    """A statement this layer does not know how to run on a cluster."""


def quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def replicated(engine: str, params: str | None, keeper_path: str, replica: str) -> str:
    args = [quoted(keeper_path), quoted(replica), *([params.strip()] if params and params.strip() else [])]
    return f"Replicated{engine}({', '.join(args)})"


def on_cluster(statements: Iterable[str], cluster: str, database: str) -> list[str]:
    """The cluster form of each single-server statement, in order."""
    on = f"ON CLUSTER {quoted(cluster)}"
    out: list[str] = []
    for statement in statements:
        if view := _VIEW.match(statement):
            out.append(f"{view['create']} {view['name']} {on} AS{view['body']}")
            continue
        if alter := _ALTER.match(statement):  # a sharded table changes on its shards and its front
            name = alter["name"]
            names = [f"{name}_local", name] if name in SHARD_KEYS else [name]
            out.extend(f"ALTER TABLE {name} {on} {alter['change'].strip()}" for name in names)
            continue
        table = _TABLE.match(statement)
        if table is None or table["engine"].startswith("Replicated"):
            raise ClusterDDLError(f"no cluster form for: {statement.strip()[:120]}")
        name, columns, rest = table["name"], table["columns"], table["rest"]
        if name in SHARD_KEYS:
            local = f"{name}_local"
            engine = replicated(table["engine"], table["params"], SHARDED_PATH, "{replica}")
            out.append(f"CREATE TABLE IF NOT EXISTS {local} {on} ({columns}) ENGINE = {engine}{rest}")
            target = ", ".join([quoted(cluster), quoted(database), quoted(local), SHARD_KEYS[name]])
            out.append(f"CREATE TABLE IF NOT EXISTS {name} {on} AS {local} ENGINE = Distributed({target})")
        else:
            engine = replicated(table["engine"], table["params"], WHOLE_PATH, "{shard}-{replica}")
            out.append(f"CREATE TABLE IF NOT EXISTS {name} {on} ({columns}) ENGINE = {engine}{rest}")
    return out


def create_database(database: str, cluster: str | None) -> str:
    clause = f" ON CLUSTER {quoted(cluster)}" if cluster else ""
    return f"CREATE DATABASE IF NOT EXISTS `{database}`{clause}"
