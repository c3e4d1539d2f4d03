"""Moving an existing ``calls`` table to the month-partitioned layout (see ddl.py).

A new database gets the partitioned table from ``apply_schema``. A data directory made
before that keeps its unpartitioned table, which every read still handles exactly (only
without the partition pruning). ``callfloor migrate-calls`` converts it, with the workers
stopped: copy into a partitioned table, swap names, keep the old table as
``calls_unpartitioned`` until you drop it, and record the corrected calls the old table
holds (the materialized view only sees new inserts).
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from sinks.clickhouse.ddl import CALLS_TABLE, CORRECTED_TABLE

OLD_TABLE = f"{CALLS_TABLE}_unpartitioned"
_NEW_TABLE = f"{CALLS_TABLE}_by_month"
# Views that read ``calls`` by name: dropped before the swap, re-created by apply_schema.
_TRIGGERS = (f"{CORRECTED_TABLE}_mv", "call_versions_mv")


def partition_key(client: Client) -> str:
    found = client.query(
        "SELECT partition_key FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
        parameters={"t": CALLS_TABLE},
    ).result_rows
    return found[0][0] if found else ""


def migrate_calls(client: Client) -> bool:
    """Partition ``calls`` by month if it is not; True when a migration ran. Workers must be stopped."""
    if partition_key(client):
        return False
    client.command(f"DROP TABLE IF EXISTS {_NEW_TABLE}")
    client.command(
        f"CREATE TABLE {_NEW_TABLE} AS {CALLS_TABLE} ENGINE = ReplacingMergeTree(rank)"
        " PARTITION BY toYYYYMM(business_day) ORDER BY call_id"
    )
    client.command(f"INSERT INTO {_NEW_TABLE} SELECT * FROM {CALLS_TABLE}")
    corrected = f"SELECT call_id, rank FROM {CALLS_TABLE} WHERE version > 1"
    client.command(f"INSERT INTO {CORRECTED_TABLE} {corrected}")
    for view in _TRIGGERS:
        client.command(f"DROP VIEW IF EXISTS {view}")
    client.command(f"RENAME TABLE {CALLS_TABLE} TO {OLD_TABLE}, {_NEW_TABLE} TO {CALLS_TABLE}")
    return True
