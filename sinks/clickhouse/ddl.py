"""Tables and views, applied idempotently at start-up.

``calls`` holds one row per call attempt *version as received*; the engine keeps
the highest ``rank`` per ``call_id`` (rank = version, then earliest Kafka offset),
and every exact read goes through ``FINAL`` so duplicates that a merge has not
yet removed are never counted. The per-day and per-hour aggregates are views
over that deduplicated set, so they are exact by construction: a redelivered,
duplicated or corrected CDR can never be counted twice in what payroll reads.

Every exact read names :data:`EXACT_CALLS` as its source, so the layout can change in one
place. ``calls`` is not partitioned: partitioning it by month (with a cross-partition winner
filter, since ReplacingMergeTree deduplicates within a partition only) was built and measured
slower than one ``FINAL`` over 10M merged calls (README "Payroll", branch
``payroll-partitioned-experiment``).
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from schemas.kpis import KPI_COUNTERS, KpiCounter
from schemas.settings import Settings
from sinks.clickhouse.client import connect
from sinks.clickhouse.cluster import as_configured, create_database
from sinks.clickhouse.targets import TARGET_STATEMENTS

CALLS_TABLE = "calls"
# the instant the local hour began; rows written before the column existed get the UTC hour
_HOUR_START = "hour_start DateTime('UTC') DEFAULT toStartOfHour(dialed_at)"


def kpi_sum(counter: KpiCounter) -> str:
    """``sum(column) AS name`` for one KPI counter: the one way every read totals it."""
    return f"sum(toInt128({counter.column})) AS {counter.sum_alias}"  # Int64 would wrap on money


# One column per KPI counter (schemas.kpis): what this call version adds to its rep's day.
_COUNTER_COLUMNS = ",\n    ".join(f"{c.column:<15} {c.column_type}" for c in KPI_COUNTERS)

_CALLS = f"""
CREATE TABLE IF NOT EXISTS {CALLS_TABLE} (
    call_id         String,
    version         UInt32,
    rank            UInt64,
    rep_id          String,
    team_id         String,
    campaign_id     String,
    direction       LowCardinality(String),
    dialed_at       DateTime64(3, 'UTC'),
    answered_at     Nullable(DateTime64(3, 'UTC')),
    ended_at        DateTime64(3, 'UTC'),
    business_day    Date,
    business_hour   UInt8,
    {_HOUR_START},
    disposition     LowCardinality(String),
    amd             LowCardinality(Nullable(String)),
    talk_seconds    UInt32,
    wrap_seconds    UInt32,
    outcome         LowCardinality(Nullable(String)),
    sale_amount     Nullable(Decimal(18, 2)),
    currency        LowCardinality(String),
    new_customer    Bool,
    list_price      Nullable(Decimal(18, 2)),
    sold_price      Nullable(Decimal(18, 2)),
    {_COUNTER_COLUMNS},
    kafka_partition UInt32,
    kafka_offset    UInt64,
    ingested_at     DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(rank)
ORDER BY call_id
"""

# ``FROM {EXACT_CALLS}`` (then ``AND ...`` for more conditions): each call once, at its winning version.
EXACT_CALLS = f"{CALLS_TABLE} FINAL WHERE 1"

# Money sums in Int128 / Decimal128 (kpi_sum, and list/sold prices summed as Decimal128):
# an Int64 sum wraps silently and Decimal(18, 2) * 100 overflows near the schema's limit.
# Price control (Σ sold / Σ list over sales) is not a per-call counter: its two sums, in cents.
PRICE_SUMS = """
    toInt128(sumIf(list_price, outcome = 'sale' AND list_price IS NOT NULL) * 100) AS list_cents,
    toInt128(sumIf(sold_price, outcome = 'sale' AND sold_price IS NOT NULL) * 100) AS sold_cents
"""

_SUMS = f"""
    {", ".join(kpi_sum(c) for c in KPI_COUNTERS)},{PRICE_SUMS}"""

# OR REPLACE: a database made by an older version gets today's definitions at start-up.
_REP_DAY = f"""
CREATE OR REPLACE VIEW rep_day AS
SELECT business_day, rep_id, any(team_id) AS team_id, {_SUMS}
FROM {EXACT_CALLS}
GROUP BY business_day, rep_id
"""

_REP_HOUR = f"""
CREATE OR REPLACE VIEW rep_hour AS
SELECT business_day, business_hour, hour_start, rep_id, any(team_id) AS team_id, {_SUMS}
FROM {EXACT_CALLS}
GROUP BY business_day, business_hour, hour_start, rep_id
"""
_ADD_HOUR_START = f"ALTER TABLE {CALLS_TABLE} ADD COLUMN IF NOT EXISTS {_HOUR_START} AFTER business_hour"

# Every partition a call ever arrived on. ``calls`` keeps only a call's winning copy (a
# losing one can vanish at insert or merge), so this is how a worker seeding partition p
# learns that an old copy on p was superseded by a version that moved to another rep.
PARTITIONS_TABLE = "call_partitions"
_CALL_PARTITIONS = f"""
CREATE TABLE IF NOT EXISTS {PARTITIONS_TABLE} (
    kafka_partition UInt32,
    call_id         String,
    business_day    Date
) ENGINE = ReplacingMergeTree
ORDER BY (kafka_partition, call_id, business_day)
"""

STATEMENTS: tuple[str, ...] = (
    _CALLS, _CALL_PARTITIONS, _REP_DAY, _ADD_HOUR_START, _REP_HOUR, *TARGET_STATEMENTS
)


def apply_schema(settings: Settings) -> Client:
    """Create the database, tables and views (safe on every start); return a client to it."""
    cluster, database = settings.clickhouse_cluster, settings.clickhouse_database
    with connect(settings, database="") as admin:
        admin.command(create_database(database, cluster))
    from sinks.clickhouse.payroll_ddl import ensure_payroll_schema  # it builds on this module's tables

    client = connect(settings)
    for statement in as_configured(STATEMENTS, cluster, database):
        client.command(statement)
    ensure_payroll_schema(client, settings)
    return client
