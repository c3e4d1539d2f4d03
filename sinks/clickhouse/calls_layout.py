"""Moving a database made before month partitions to today's layout (see ddl.py).

A new database gets ``calls`` and ``call_partitions`` partitioned by month from
``apply_schema``. A data directory made before keeps its unpartitioned tables, which every
read still handles exactly, only reading all history each time. ``callfloor migrate-calls``
converts them with the workers stopped: copy each into a partitioned table, swap the names,
and keep the old table as ``<name>_unpartitioned`` until you drop it. The materialized views
reading ``calls`` follow the renamed old table, so they are dropped and ``apply_schema``
creates them again on the new one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from clickhouse_connect.driver.client import Client

from schemas.settings import Settings
from sinks.clickhouse.ddl import (
    BY_MONTH,
    CALLS_TABLE,
    CORRECTED_TABLE,
    PARTITIONS_TABLE,
    STATEMENTS,
    unpartitioned,
)
from sinks.clickhouse.payroll_ddl import VERSIONS
from sinks.clickhouse.schema_version import apply_schema

log = logging.getLogger(__name__)

OLD_SUFFIX = "_unpartitioned"
_TRIGGERS = (f"{CORRECTED_TABLE}_mv", f"{VERSIONS}_mv")


def create_statement(table: str, as_name: str, *, by_month: bool = True) -> str:
    """``table``'s DDL under another name; ``by_month=False`` gives the layout before
    month partitions (what tests and the payroll benchmark compare against)."""
    prefix = f"CREATE TABLE IF NOT EXISTS {table} "
    (statement,) = (s for s in STATEMENTS if s.strip().startswith(prefix))
    statement = statement.strip().replace(prefix, f"CREATE TABLE {as_name} ", 1)
    return statement if by_month else statement.replace(f"{BY_MONTH}\n", "")


def recreate_unpartitioned(client: Client) -> None:
    """Replace the (empty or not) call tables with the layout before month partitions."""
    for table in (CALLS_TABLE, PARTITIONS_TABLE):
        client.command(f"DROP TABLE {table}")
        client.command(create_statement(table, table, by_month=False))


def migrate_calls(settings: Settings, say: Callable[[str], None] = log.info) -> list[str]:
    """Partition ``calls`` and ``call_partitions`` by month if they are not; the tables
    migrated. Every worker must be stopped: rows inserted during the copy would be lost."""
    with apply_schema(settings) as client:
        tables = unpartitioned(client)
        for table in tables:
            new = f"{table}_by_month"
            rows = client.command(f"SELECT count() FROM {table}")
            say(f"{table}: copying {rows:,} rows into a table partitioned by month")
            client.command(f"DROP TABLE IF EXISTS {new}")
            client.command(create_statement(table, new))
            columns = ", ".join(
                name
                for (name,) in client.query(
                    "SELECT name FROM system.columns WHERE database = currentDatabase()"
                    " AND table = {t:String} ORDER BY position",
                    parameters={"t": table},
                ).result_rows
            )
            client.command(f"INSERT INTO {new} ({columns}) SELECT {columns} FROM {table}")
            if table == CALLS_TABLE:
                for view in _TRIGGERS:
                    client.command(f"DROP VIEW IF EXISTS {view}")
            client.command(f"RENAME TABLE {table} TO {table}{OLD_SUFFIX}, {new} TO {table}")
            say(f"{table}: done; the old table is {table}{OLD_SUFFIX} (DROP TABLE it when satisfied)")
    if tables:
        apply_schema(settings).close()  # the views again, on the new tables
    return tables
