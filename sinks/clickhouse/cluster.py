"""The DDL for a ClickHouse cluster (``CALLFLOOR_CLICKHOUSE_CLUSTER``), derived from the
single-server DDL (ddl.py, targets.py, payroll_ddl.py) so that the two can never disagree on
columns or order. This is the only place a statement gets its cluster form.

- the call tables (``calls``, ``call_corrected``, ``call_partitions``, ``call_versions``) are
  sharded: each becomes ``<name>_local``, a ``Replicated*MergeTree`` on every shard, behind a
  ``Distributed`` table of the old name sharded by ``cityHash64(call_id)``. Every version and
  copy of a call lands on one shard, where ``FINAL`` (which deduplicates only within a shard)
  keeps exactly one; a call's ``call_partitions`` rows, its ``call_corrected`` winner and every
  one of its versions sit beside it, so the reads' ``call_id IN (SELECT call_id FROM <call
  table> ...)`` and ``EXACT_CALLS``' join run shard-locally (``distributed_product_mode =
  'local'``).
- a materialized view runs on every node, from the *local* source to the *local* target: a
  ``Distributed`` insert reaches each shard as an insert into ``calls_local``, and that is what
  fires the view, once per version, on the shard that stores the call.
- every other table is small and replicated whole to every node (its Keeper path has no
  ``{shard}``), so it reads the same on any node and a join between two of them stays local:
  the targets history, and payroll's closes and amounts paid (written once per month by
  ``payroll close``; ``paid_for`` reads ``payroll_paid`` with ``IN`` over ``payroll_closes``).
- views are created ``ON CLUSTER`` unchanged: they read the ``Distributed`` tables.

Inserts into a ``Distributed`` table return only once every shard has the rows, on a quorum of
its replicas (``insert_distributed_sync``, ``insert_quorum``), so the writer's acknowledgement
still means stored; reads ask for sequential consistency (see ``CLIENT_SETTINGS``).
The cluster needs ``{shard}`` and ``{replica}`` macros, ``internal_replication`` true (one
insert per shard; its replicas copy it, and the view fires once) and ClickHouse Keeper.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

CALL_SHARD_KEY = "cityHash64(call_id)"
SHARD_KEYS = {
    name: CALL_SHARD_KEY for name in ("calls", "call_corrected", "call_partitions", "call_versions")
}

# Keeper paths: a sharded table's replicas per shard; a whole table's replicas on every node
# (named shard-replica there, since replica macros often repeat from shard to shard).
SHARDED_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
WHOLE_PATH = "/clickhouse/tables/all/{database}/{table}"

# Settings every client session needs against a cluster (see the module docstring). A write
# is acknowledged once a majority of its shard's replicas have it (``insert_quorum``: a replica
# lost before the others fetched its part loses nothing acknowledged), and every read is served
# only by a replica holding every quorum write (``select_sequential_consistency``): a report, a
# payroll run or close, or a worker seeding a partition right after an insert sees it.
CLIENT_SETTINGS = {
    "insert_distributed_sync": 1,
    "distributed_product_mode": "local",
    "insert_quorum": "auto",
    "select_sequential_consistency": 1,
}

# A table with its columns, or typed by an empty SELECT (``AS SELECT ... FROM src WHERE 0``).
_TABLE = re.compile(
    r"^\s*CREATE TABLE IF NOT EXISTS (?P<name>\w+)\s*(?:\((?P<columns>.*)\)\s*)?"
    r"ENGINE\s*=\s*(?P<engine>\w*MergeTree)(?:\((?P<params>[^)]*)\))?(?P<rest>.*?)"
    r"(?:\bAS (?P<select>SELECT\b.*\bFROM) (?P<source>\w+) WHERE 0)?\s*$",
    re.S,
)
_VIEW = re.compile(
    r"^\s*(?P<create>CREATE VIEW IF NOT EXISTS|CREATE OR REPLACE VIEW) (?P<name>\w+) AS\b(?P<body>.*)$", re.S
)
_MATERIALIZED = re.compile(
    r"^\s*CREATE MATERIALIZED VIEW IF NOT EXISTS (?P<name>\w+) TO (?P<target>\w+)\s+"
    r"AS (?P<select>SELECT\b.*\bFROM) (?P<source>\w+)(?P<where>\s+WHERE\b[^()]*?)?\s*$",
    re.S,
)
_ALTER = re.compile(r"^\s*ALTER TABLE (?P<name>\w+) (?P<change>.*)$", re.S)


class ClusterDDLError(ValueError):
    """A statement this layer does not know how to run on a cluster."""


def quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def local(name: str) -> str:
    """The per-shard table behind a sharded name; any other table is its own."""
    return f"{name}_local" if name in SHARD_KEYS else name


def replicated(engine: str, params: str | None, keeper_path: str, replica: str) -> str:
    args = [quoted(keeper_path), quoted(replica), *([params.strip()] if params and params.strip() else [])]
    return f"Replicated{engine}({', '.join(args)})"


def on_cluster(statements: Iterable[str], cluster: str, database: str) -> list[str]:
    """The cluster form of each single-server statement, in order."""
    out: list[str] = []
    for statement in statements:
        out.extend(_cluster_form(statement, cluster, database))
    return out


def as_configured(statements: Iterable[str], cluster: str, database: str) -> list[str]:
    """What to run: the statements themselves on one server, their cluster form on a cluster."""
    return on_cluster(statements, cluster, database) if cluster else list(statements)


def _cluster_form(statement: str, cluster: str, database: str) -> list[str]:
    on = f"ON CLUSTER {quoted(cluster)}"
    if view := _VIEW.match(statement):
        return [f"{view['create']} {view['name']} {on} AS{view['body']}"]
    if mv := _MATERIALIZED.match(statement):
        return [_materialized_view(mv, on)]
    if alter := _ALTER.match(statement):  # a sharded table changes on its shards and its front
        names = dict.fromkeys([local(alter["name"]), alter["name"]])
        return [f"ALTER TABLE {name} {on} {alter['change'].strip()}" for name in names]
    table = _TABLE.match(statement)
    copies_rows = table is not None and re.search(r"\bAS SELECT\b", table["rest"])
    if table is None or table["engine"].startswith("Replicated") or copies_rows:
        raise ClusterDDLError(f"no cluster form for: {statement.strip()[:120]}")
    name, rest = table["name"], table["rest"].rstrip()
    shape = f" ({table['columns']})" if table["columns"] is not None else ""
    # EMPTY: each node takes the columns and runs no SELECT (ON CLUSTER, each would run it)
    typed_by = f" EMPTY AS {table['select']} {local(table['source'])}" if table["select"] else ""
    if name not in SHARD_KEYS:
        engine = replicated(table["engine"], table["params"], WHOLE_PATH, "{shard}-{replica}")
        return [f"CREATE TABLE IF NOT EXISTS {name} {on}{shape} ENGINE = {engine}{rest}{typed_by}"]
    engine = replicated(table["engine"], table["params"], SHARDED_PATH, "{replica}")
    target = ", ".join([quoted(cluster), quoted(database), quoted(local(name)), SHARD_KEYS[name]])
    return [
        f"CREATE TABLE IF NOT EXISTS {local(name)} {on}{shape} ENGINE = {engine}{rest}{typed_by}",
        f"CREATE TABLE IF NOT EXISTS {name} {on} AS {local(name)} ENGINE = Distributed({target})",
    ]


def _materialized_view(mv: re.Match[str], on: str) -> str:
    """The view on every node, from the local source into the local target. A sharded target
    must be fed from a source sharded by the same key, or rows would sit on the wrong shard."""
    source, target = mv["source"], mv["target"]
    if target in SHARD_KEYS and SHARD_KEYS[target] != SHARD_KEYS.get(source):
        raise ClusterDDLError(
            f"no cluster form for: {mv.string.strip()[:120]} "
            f"({target} is sharded by {SHARD_KEYS[target]}, its source {source} is not)"
        )
    create = f"CREATE MATERIALIZED VIEW IF NOT EXISTS {mv['name']} {on} TO {local(target)}"
    return f"{create} AS {mv['select']} {local(source)}{mv['where'] or ''}"


def create_database(database: str, cluster: str | None) -> str:
    clause = f" ON CLUSTER {quoted(cluster)}" if cluster else ""
    return f"CREATE DATABASE IF NOT EXISTS `{database}`{clause}"
