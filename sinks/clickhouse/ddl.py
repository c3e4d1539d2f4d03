"""Tables and views, applied idempotently by ``callfloor migrate`` (schema_version.py).

``calls`` holds one row per call attempt *version as received*; the engine keeps
the highest ``rank`` per ``call_id`` (rank = version, then earliest Kafka offset),
and every exact read goes through ``FINAL`` so duplicates that a merge has not
yet removed are never counted. The per-day and per-hour aggregates are views
over that deduplicated set, so they are exact by construction: a redelivered,
duplicated or corrected CDR can never be counted twice in what payroll reads.

``calls`` is partitioned by month of ``business_day``, so a read of a month (payroll) or of
the last days (the worker's refreshes and seeds) touches those partitions only, not all
history. ReplacingMergeTree and ``FINAL`` deduplicate within a partition only, and a
correction can move a call to another month: ``call_corrected`` (fed by a materialized
view) holds the winning version of every call that has a version above 1, a few per cent
of calls, and :data:`EXACT_CALLS` drops a row of such a call unless it is that winner.
Every exact read names ``EXACT_CALLS`` as its source, so the rule lives in one place.
"""

from __future__ import annotations

import logging

from clickhouse_connect.driver.client import Client

from schemas.kpis import KPI_COUNTERS, KpiCounter
from sinks.clickhouse.targets import TARGET_STATEMENTS

log = logging.getLogger(__name__)

CALLS_TABLE = "calls"
# both call tables; reads that name their days skip every other month
BY_MONTH = "PARTITION BY toYYYYMM(business_day)"
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
{BY_MONTH}
ORDER BY call_id
"""

# The winning version of every call that has a version above 1: only such a call can have
# versions in two month partitions (copies of one version are the same call on the same
# day). Any version above 1 outranks every copy of version 1, so the highest rank here is
# the call's winner, found without reading ``calls``.
CORRECTED_TABLE = "call_corrected"
_CORRECTED = f"""
CREATE TABLE IF NOT EXISTS {CORRECTED_TABLE} (
    call_id      String,
    rank         UInt64,
    business_day Date
) ENGINE = ReplacingMergeTree(rank)
ORDER BY call_id
"""
_CORRECTED_MV = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS {CORRECTED_TABLE}_mv TO {CORRECTED_TABLE}
AS SELECT call_id, rank, business_day FROM {CALLS_TABLE} WHERE version > 1
"""
BACKFILL_CORRECTED = (  # migrate runs it once for a database made before call_corrected
    f"INSERT INTO {CORRECTED_TABLE} SELECT call_id, rank, business_day FROM {CALLS_TABLE} WHERE version > 1"
)

# Each corrected call's winner, chosen by max(rank) per call_id rather than by FINAL: on a
# cluster this subquery is rewritten to the shard's call_corrected_local, and before ClickHouse
# 25.3.3.42 (#77996) such a rewrite dropped FINAL, so an unmerged older winner could be picked.
# A GROUP BY survives any rewrite; benchmarks/exact_winners.py measures it against FINAL.
WINNERS = f"SELECT call_id, max(rank) AS winner_rank FROM {CORRECTED_TABLE} GROUP BY call_id"


def exact_calls(winners: str) -> str:
    """``calls`` read exactly, given the subquery that names each corrected call's winner."""
    return (
        f"{CALLS_TABLE} FINAL LEFT ANY JOIN ({winners})"
        " AS winners USING call_id WHERE (winners.winner_rank = 0 OR winners.winner_rank = rank)"
    )


# ``FROM {EXACT_CALLS}`` (then ``AND ...`` for more conditions): each call once, at its winning
# version. ``FINAL`` keeps a call's best row per month partition; the join drops that row when
# a correction put the call's winner elsewhere (winner_rank 0: never corrected).
EXACT_CALLS = exact_calls(WINNERS)

# Money sums in Int128 / Decimal128 (kpi_sum, and list/sold prices summed as Decimal128):
# an Int64 sum wraps silently and Decimal(18, 2) * 100 overflows near the schema's limit.
# Price control (Σ sold / Σ list over sales) is not a per-call counter: its two sums, in cents.
PRICE_SUMS = """
    toInt128(sumIf(list_price, outcome = 'sale' AND list_price IS NOT NULL) * 100) AS list_cents,
    toInt128(sumIf(sold_price, outcome = 'sale' AND sold_price IS NOT NULL) * 100) AS sold_cents
"""

_SUMS = f"""
    {", ".join(kpi_sum(c) for c in KPI_COUNTERS)},{PRICE_SUMS}"""

# OR REPLACE: a database made by an older version gets today's definitions at `callfloor migrate`.
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
# A counter added to schemas.kpis after a database was made (the outbound ones): its column,
# 0 on the calls stored before it existed.
_ADD_COUNTERS = tuple(
    f"ALTER TABLE {CALLS_TABLE} ADD COLUMN IF NOT EXISTS {c.column} {c.column_type}" for c in KPI_COUNTERS
)

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
{BY_MONTH}
ORDER BY (kafka_partition, call_id, business_day)
"""

STATEMENTS: tuple[str, ...] = (
    _CALLS, _CORRECTED, _CORRECTED_MV, _CALL_PARTITIONS, *_ADD_COUNTERS, _REP_DAY, _ADD_HOUR_START, _REP_HOUR,
    *TARGET_STATEMENTS,
)


def partition_key(client: Client, table: str) -> str:
    """The table's partition expression; empty for an unpartitioned (or missing) table."""
    found = client.query(
        "SELECT partition_key FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
        parameters={"t": table},
    ).result_rows
    return found[0][0] if found else ""


def unpartitioned(client: Client) -> list[str]:
    """The tables still in the old layout."""
    return [table for table in (CALLS_TABLE, PARTITIONS_TABLE) if not partition_key(client, table)]
