"""The schema as a versioned step: ``callfloor migrate`` applies it, a worker only checks it.

Applying the DDL at every worker start meant that on a cluster each start ran every statement
``ON CLUSTER``; with one node down each waited ``distributed_ddl_task_timeout`` and failed, so
a worker restarted during an outage never wrote. Now ``callfloor migrate`` (a one-shot compose
service, a Kubernetes Job) applies the DDL once and records the version it applied in
``schema_version``; a worker compares that with its own and, until they match, is not ready
(``/readyz`` names the reason) and writes and seeds nothing.

The version is derived, never bumped by hand: the SHA-256 of the statements exactly as they
are run here (cluster form on a cluster; the payroll view embeds the business time zone). Any
change of a column, a view or the zone is a new version, so a worker can never run against a
schema it was not built for, and nobody has to remember to bump a number.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from clickhouse_connect.driver.client import Client

from schemas.settings import Settings
from sinks.clickhouse.client import connect, tables_not_made_yet
from sinks.clickhouse.cluster import as_configured, create_database
from sinks.clickhouse.ddl import BACKFILL_CORRECTED, CORRECTED_TABLE, STATEMENTS, unpartitioned
from sinks.clickhouse.payroll_claims import CLAIM_STATEMENTS
from sinks.clickhouse.payroll_ddl import REP_MONTH_VIEW, VERSIONS_MV_QUERY, payroll_statements

log = logging.getLogger(__name__)

SCHEMA_TABLE = "schema_version"
# One row per migrate that changed something; the latest ``applied_at`` is the version in force.
_SCHEMA_TABLE = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (
    version     String,
    statements  UInt32,
    callfloor   String,
    applied_at  DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = MergeTree
ORDER BY applied_at
"""
_COLUMNS = ("version", "statements", "callfloor")


def schema_statements(settings: Settings) -> tuple[str, ...]:
    """Every statement of today's schema, single-server form, in order: what ``callfloor
    migrate`` applies and what its recorded version is computed from."""
    return (*STATEMENTS, *payroll_statements(settings.timezone), *CLAIM_STATEMENTS)


def apply_schema(settings: Settings, statements: Sequence[str] | None = None) -> Client:
    """Create the database, tables and views (idempotent); return a client to it. Only
    ``callfloor migrate`` (:func:`migrate`) and tests call this: a worker never does.
    ``statements`` default to :func:`schema_statements` (tests pass an older schema's)."""
    cluster, database = settings.clickhouse_cluster, settings.clickhouse_database
    with connect(settings, database="") as admin:
        admin.command(create_database(database, cluster))
    client = connect(settings)
    backfill = not any(row[0] for row in client.query(f"EXISTS TABLE {CORRECTED_TABLE}").result_rows)
    wanted = schema_statements(settings) if statements is None else statements
    for statement in as_configured(wanted, cluster, database):
        client.command(statement)
    if backfill:  # a database from before call_corrected: its view sees new inserts only
        client.command(BACKFILL_CORRECTED)
    if not cluster:  # call_versions' view, made before the outbound counters, copies them too
        client.command(VERSIONS_MV_QUERY)
    if not cluster and (old := unpartitioned(client)):
        log.warning(
            "%s not partitioned by month (made by an older callfloor): reads stay exact but read all"
            " history; stop the workers and run `callfloor migrate-calls`", " and ".join(old)
        )
    return client


class SchemaNotReady(RuntimeError):
    """ClickHouse's schema is not the one this callfloor needs: run ``callfloor migrate``."""


class ZoneChangeRefused(RuntimeError):
    """``callfloor migrate`` was run with another CALLFLOOR_TIMEZONE than the database was made
    for. The payroll view ends a month at local midnight and workers store each call's
    business day in the zone, so a shell with the wrong zone would silently move which day
    (and month) calls fall in, and so pay; only an explicit ``--change-timezone`` does that."""

    def __init__(self, database: str, made_for: str, asked: str) -> None:
        self.made_for, self.asked = made_for, asked
        super().__init__(
            f"ClickHouse database {database!r} was made for CALLFLOOR_TIMEZONE={made_for}, and this migrate "
            f"runs with CALLFLOOR_TIMEZONE={asked}: refusing to move the floor's business zone (which day, "
            f"and so which pay month, calls fall in). Set CALLFLOOR_TIMEZONE={made_for} to migrate in the "
            f"floor's zone, or, to change the zone on purpose, stop every worker and run "
            f"`callfloor migrate --change-timezone` with CALLFLOOR_TIMEZONE={asked}"
        )


def configured_statements(settings: Settings, statements: Sequence[str] | None = None) -> list[str]:
    """The statements as they run against ``settings``' ClickHouse (cluster form on a cluster)."""
    wanted = schema_statements(settings) if statements is None else statements
    return as_configured(wanted, settings.clickhouse_cluster, settings.clickhouse_database)


def schema_version(statements: Sequence[str]) -> str:
    """The version of a schema: a short digest of its statements, in order."""
    digest = hashlib.sha256("\n;\n".join(s.strip() for s in statements).encode()).hexdigest()
    return digest[:16]


def wanted_version(settings: Settings) -> str:
    return schema_version(configured_statements(settings))


def check_schema(settings: Settings) -> Client:
    """A client to the database when its schema is this callfloor's; else raise
    :class:`SchemaNotReady` saying what is there and what to run. Never changes anything."""
    wanted = wanted_version(settings)
    with connect(settings, database="") as client:  # the database itself may not exist yet
        found = recorded_version(client, settings.clickhouse_database)
    if found != wanted:
        where = f"ClickHouse database {settings.clickhouse_database!r}"
        zone = _zone_made_for(settings) if found else None
        runs_in = f"this command runs with CALLFLOOR_TIMEZONE={settings.timezone}"
        if zone and wanted_version(settings.model_copy(update={"timezone": zone})) == found:
            raise SchemaNotReady(  # the zone is all that differs: migrating would move the floor's
                f"{where} was made for CALLFLOOR_TIMEZONE={zone} (schema version {found}), and {runs_in}: "
                f"set CALLFLOOR_TIMEZONE={zone}, the floor's business time zone, and run it again "
                "(`callfloor migrate` here refuses to move the floor's zone under its workers unless "
                "given --change-timezone)"
            )
        has = f"is at schema version {found}" if found else "has no schema version recorded"
        with_zone = f" with CALLFLOOR_TIMEZONE={zone}, the zone it was made for ({runs_in})" if zone else ""
        raise SchemaNotReady(
            f"schema not migrated: {where} {has}, this callfloor needs {wanted}; "
            f"run `callfloor migrate`{with_zone}"
        )
    return connect(settings)


# How the payroll view names the business zone (payroll_ddl's month end), as ClickHouse keeps it.
_VIEW_ZONE = re.compile(r"addMonths\(m\.month, 1\), '([^']+)'\)")


def _zone_made_for(settings: Settings) -> str | None:
    """The business zone the database's payroll view was made for, when it is not the one
    ``settings`` name (None when they agree, or the view is not there)."""
    with connect(settings, database="") as client:
        rows = client.query(
            "SELECT create_table_query FROM system.tables WHERE database = {d:String} AND name = {n:String}",
            parameters={"d": settings.clickhouse_database, "n": REP_MONTH_VIEW},
        ).result_rows
    zone = next((m[1] for (query,) in rows if (m := _VIEW_ZONE.search(query))), None)
    return None if zone == settings.timezone else zone


def recorded_version(client: Client, database: str) -> str | None:
    """The version ``callfloor migrate`` last recorded in ``database``; None when it never ran
    there (or the database does not exist yet)."""
    try:
        rows = client.query(
            f"SELECT version FROM `{database}`.{SCHEMA_TABLE} ORDER BY applied_at DESC LIMIT 1"
        ).result_rows
    except Exception as exc:
        if tables_not_made_yet(exc):
            return None
        raise
    return rows[0][0] if rows else None


@dataclass(frozen=True)
class Migration:
    """What one ``callfloor migrate`` found and did."""

    before: str | None
    version: str
    applied: int  # statements run; 0 when the schema was already this version

    @property
    def changed(self) -> bool:
        return self.applied > 0


def this_callfloor() -> str:
    try:
        return package_version("callfloor")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def migrate(
    settings: Settings, statements: Sequence[str] | None = None, *, change_timezone: bool = False
) -> Migration:
    """Apply the schema (``statements``, default today's) and record its version; a no-op
    when the recorded version is already that one. On a cluster every statement runs
    ``ON CLUSTER`` here, once, not at every worker start. A database made for another
    business zone is refused (:class:`ZoneChangeRefused`) unless ``change_timezone``."""
    wanted = configured_statements(settings, statements)
    version = schema_version(wanted)
    with connect(settings, database="") as probe:
        before = recorded_version(probe, settings.clickhouse_database)
    if before == version:
        return Migration(before, version, 0)
    if (made_for := _zone_made_for(settings)) is not None:
        if not change_timezone:
            raise ZoneChangeRefused(settings.clickhouse_database, made_for, settings.timezone)
        log.warning("moving the business time zone of ClickHouse database %r from %s to %s",
                    settings.clickhouse_database, made_for, settings.timezone)  # fmt: skip
    with apply_schema(settings, statements) as client:
        for statement in as_configured((_SCHEMA_TABLE,), settings.clickhouse_cluster,
                                       settings.clickhouse_database):  # fmt: skip
            client.command(statement)
        client.insert(SCHEMA_TABLE, [[version, len(wanted), this_callfloor()]], column_names=_COLUMNS)
    log.info("ClickHouse schema %s -> %s (%d statements)", before or "none", version, len(wanted))
    return Migration(before, version, len(wanted))
