"""Payroll's tables and its read model, next to ``calls`` (applied by schema_version.apply_schema).

``call_versions`` keeps every version of every call as it arrived: ``calls`` is a
ReplacingMergeTree and drops superseded versions at merges, but a payroll clerk must
be able to show the version that did not count, and a closed month must know which
versions arrived after it was paid. A materialized view copies each insert into
``calls``, so the writer is unchanged. ``payroll_rep_month`` is the stable view payroll
systems may read: one row per rep per month (see README "Payroll").
"""

from __future__ import annotations

from schemas.kpis import KPI, KPI_COUNTERS, Unit
from schemas.targets import METRIC_KEYS
from sinks.clickhouse.ddl import CALLS_TABLE, EXACT_CALLS, PRICE_SUMS, kpi_sum
from sinks.clickhouse.targets import TARGETS_TABLE, VERSIONS_TABLE

VERSIONS = "call_versions"
CLOSES = "payroll_closes"
PAID = "payroll_paid"
REP_MONTH_VIEW = "payroll_rep_month"

# What a version says, for explanations; counters in the schemas.kpis columns.
VERSION_COLUMNS: tuple[str, ...] = (
    "call_id",
    "version",
    "rank",
    "rep_id",
    "team_id",
    "business_day",
    "dialed_at",
    "disposition",
    "amd",
    "talk_seconds",
    "outcome",
    "sale_amount",
    *(c.column for c in KPI_COUNTERS),
    "kafka_partition",
    "kafka_offset",
    "ingested_at",
)

# Only the columns explanations read, typed as in ``calls`` (an empty SELECT gives the types):
# the view copies every insert into ``calls``, so each column here is paid for on the hot path.
_VERSIONS_TABLE = f"""
CREATE TABLE IF NOT EXISTS {VERSIONS}
ENGINE = MergeTree
ORDER BY (rep_id, business_day, call_id, rank)
AS SELECT {", ".join(VERSION_COLUMNS)} FROM {CALLS_TABLE} WHERE 0
"""

# Named columns, not *: a column added to ``calls`` later must not break inserts into it.
_VERSIONS_MV = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS {VERSIONS}_mv TO {VERSIONS}
AS SELECT {", ".join(VERSION_COLUMNS)} FROM {CALLS_TABLE}
"""

# A KPI counter added to schemas.kpis after call_versions was made (the outbound ones): its
# column, and the view copying it (MODIFY QUERY replaces the view's SELECT in one step, so no
# insert between is missed). Calls stored before keep 0 there, as in ``calls``. On a cluster
# the view reads each node's local ``calls``: its query is changed by hand there (docs/payroll/rules.md).
_VERSIONS_COLUMNS_ADDED = tuple(
    f"ALTER TABLE {VERSIONS} ADD COLUMN IF NOT EXISTS {c.column} {c.column_type}" for c in KPI_COUNTERS
)
VERSIONS_MV_QUERY = (  # a view made before its table grew columns copies them too (migrate runs it)
    f"ALTER TABLE {VERSIONS}_mv MODIFY QUERY SELECT {', '.join(VERSION_COLUMNS)} FROM {CALLS_TABLE}"
)

# One row per close: what was paid with, so the month can be recomputed exactly as it was.
_CLOSES = f"""
CREATE TABLE IF NOT EXISTS {CLOSES} (
    month            Date,
    closed_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    plan             String,
    plan_version     UInt32,
    plan_sha256      String,
    plan_text        String,
    targets_version  String,
    cutoff           DateTime64(3, 'UTC'),
    inputs           String,
    statements       String
) ENGINE = MergeTree
ORDER BY month
"""

# What was paid per person: for_month = month is the month's own pay; for_month < month an
# adjustment paid in this month for an earlier closed month.
_PAID = f"""
CREATE TABLE IF NOT EXISTS {PAID} (
    month      Date,
    for_month  Date,
    person     String,
    amount     Decimal(18, 2)
) ENGINE = MergeTree
ORDER BY (month, for_month, person)
"""


def _target_columns() -> str:
    """Per target metric: the month's target (monthly as set; daily x days dialed) and attainment."""
    out = []
    for period, metric in METRIC_KEYS:
        value = f"maxIf(t.value, t.period = '{period}' AND t.metric = '{metric}')"
        has = f"countIf(t.period = '{period}' AND t.metric = '{metric}') > 0"
        days = " * a.days_dialed" if period == "day" else ""
        actual = f"toDecimal128(a.{KPI[metric].sum_alias}, 8)" + (
            " / 100" if KPI[metric].unit is Unit.MONEY else ""
        )
        out.append(f"if({has}, toDecimal128({value}{days}, 2), NULL) AS target_{metric}")
        # Decimal, cut to 4 places as payroll.compute.attainment does (never Float64: 10/320 is 0.0312)
        out.append(
            f"if(target_{metric} > 0, toDecimal128({actual} / target_{metric}, 4), NULL)"
            f" AS attainment_{metric}"
        )
    return ",\n       ".join(out)


def _rep_month_view(zone: str) -> str:
    sums = ", ".join(kpi_sum(c) for c in KPI_COUNTERS)
    actual_columns = ", ".join(f"a.{c.sum_alias} AS {c.sum_alias}" for c in KPI_COUNTERS)
    group = ", ".join(
        [
            "a.month",
            "a.rep_id",
            "a.team_id",
            "a.days_dialed",
            "a.cutoff",
            "a.list_cents",
            "a.sold_cents",
            "v.targets_version",
            *(f"a.{c.sum_alias}" for c in KPI_COUNTERS),
        ]
    )
    month_end = f"toDateTime64(toDateTime(addMonths(m.month, 1), '{zone}'), 3, 'UTC')"
    return f"""
CREATE OR REPLACE VIEW {REP_MONTH_VIEW} AS
WITH actuals AS (
    SELECT toStartOfMonth(business_day) AS month, rep_id, argMax(team_id, dialed_at) AS team_id,
           uniqExact(business_day) AS days_dialed, max(ingested_at) AS cutoff, {sums}, {PRICE_SUMS}
    FROM {EXACT_CALLS} GROUP BY month, rep_id
), in_force AS (
    SELECT m.month AS month, argMax(tv.sha256, (tv.loaded_at, tv.sha256)) AS targets_version
    FROM (SELECT DISTINCT month FROM actuals) AS m CROSS JOIN {VERSIONS_TABLE} AS tv
    WHERE tv.loaded_at < {month_end}
      AND (tv.effective_from IS NULL OR tv.effective_from < addMonths(m.month, 1))
    GROUP BY m.month
)
SELECT a.month AS month, a.rep_id AS rep_id, a.team_id AS team_id, a.days_dialed AS days_dialed,
       a.cutoff AS cutoff, v.targets_version AS targets_version, {actual_columns},
       a.list_cents AS list_cents, a.sold_cents AS sold_cents,
       {_target_columns()}
FROM actuals AS a
LEFT JOIN in_force AS v ON v.month = a.month
LEFT JOIN (SELECT * FROM {TARGETS_TABLE} FINAL WHERE scope = 'rep') AS t
       ON t.sha256 = v.targets_version AND t.id = a.rep_id
GROUP BY {group}
"""


def payroll_statements(zone: str) -> tuple[str, ...]:
    """DDL in order; the view embeds the business zone (a month ends at local midnight)."""
    return (_VERSIONS_TABLE, *_VERSIONS_COLUMNS_ADDED, _VERSIONS_MV, _CLOSES, _PAID, _rep_month_view(zone))

