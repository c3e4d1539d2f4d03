"""Targets history in ClickHouse, so payroll reads the targets that were in force.

Every targets file a worker takes into use becomes a *version*: one row of
``target_versions`` (its content hash, when it was first loaded, its
``effective_from``) and its flattened targets in ``targets``, keyed by the hash.

The version in force at a moment ``at`` is the latest-loaded version with
``loaded_at <= at`` and ``effective_from`` unset or ``<=`` the business day of
``at``. Ordering by load time (not by effective_from) is what makes a withdrawn
future-dated file stop counting once a newer file replaced it, and makes a file
put back as it was (A, B, then A again) a new version of its own.

Several workers load the same file: :func:`record_targets` writes nothing when
the version already in force at that load is the same content, so the history
holds one version per change. Two workers racing on the very first load may
both write it; identical rows are deduplicated by the engines (``FINAL``) and
two versions with the same hash side by side mean the same targets, so every
read stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from schemas.targets import METRIC_KEYS, Row, TargetSet

VERSIONS_TABLE = "target_versions"
TARGETS_TABLE = "targets"

_VERSIONS = f"""
CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} (
    sha256          String,
    loaded_at       DateTime64(3, 'UTC'),
    effective_from  Nullable(Date),
    source          String
) ENGINE = ReplacingMergeTree
ORDER BY (loaded_at, sha256)
"""

_TARGETS = f"""
CREATE TABLE IF NOT EXISTS {TARGETS_TABLE} (
    sha256   String,
    scope    LowCardinality(String),
    id       String,
    team_id  String,
    period   LowCardinality(String),
    metric   LowCardinality(String),
    value    Decimal(18, 2)
) ENGINE = ReplacingMergeTree
ORDER BY (sha256, scope, id, period, metric)
"""

TARGET_STATEMENTS: tuple[str, ...] = (_VERSIONS, _TARGETS)

_TARGET_COLUMNS = ("sha256", "scope", "id", "team_id", "period", "metric", "value")
_VERSION_COLUMNS = ("sha256", "loaded_at", "effective_from", "source")

_IN_FORCE = f"""
SELECT sha256, loaded_at, effective_from, source FROM {VERSIONS_TABLE} FINAL
WHERE loaded_at <= {{at:DateTime64(3, 'UTC')}}
  AND (effective_from IS NULL OR effective_from <= {{day:Date}})
ORDER BY loaded_at DESC, sha256 DESC
LIMIT 1
"""

_LOADED_BY = f"""
SELECT sha256 FROM {VERSIONS_TABLE} FINAL
WHERE loaded_at <= {{at:DateTime64(3, 'UTC')}}
ORDER BY loaded_at DESC, sha256 DESC
LIMIT 1
"""


@dataclass(frozen=True)
class TargetVersion:
    sha256: str
    loaded_at: datetime  # UTC
    effective_from: date | None  # None: in force from loaded_at
    source: str


def apply_target_schema(client: Client) -> None:
    """Create the history tables if they are missing (safe on every start)."""
    for statement in TARGET_STATEMENTS:
        client.command(statement)


def record_targets(client: Client, targets: TargetSet, loaded_at: datetime) -> bool:
    """Store ``targets`` as a new version unless it is already the one loaded by ``loaded_at``.

    The targets rows go in before the version row, so a version is never visible
    without its targets; a crash in between is repaired by the next call.
    Returns True when a version was written.
    """
    at = _utc(loaded_at)
    latest = client.query(_LOADED_BY, parameters={"at": at}).result_rows
    if latest and latest[0][0] == targets.sha256:
        return False
    rows = [(targets.sha256, *row[:-1], Decimal(row[-1])) for row in targets.rows()]
    if rows:
        client.insert(TARGETS_TABLE, rows, column_names=_TARGET_COLUMNS)
    version = [(targets.sha256, at, targets.effective_from, targets.source)]
    client.insert(VERSIONS_TABLE, version, column_names=_VERSION_COLUMNS)
    return True


def version_in_force(client: Client, at: datetime, *, zone: ZoneInfo | None = None) -> TargetVersion | None:
    """The version in force at ``at`` (see the module docstring), or None before the first one.

    ``effective_from`` is compared with the date of ``at`` in ``zone`` (pass the
    business zone, ``settings.zone``); without a zone, in ``at``'s own offset.
    """
    at = _aware(at)
    day = at.astimezone(zone).date() if zone is not None else at.date()
    found = client.query(_IN_FORCE, parameters={"at": _utc(at), "day": day}).result_rows
    if not found:
        return None
    sha256, loaded, effective_from, source = found[0]
    return TargetVersion(sha256, _as_utc(loaded), effective_from, source)


def targets_in_force(client: Client, at: datetime, *, zone: ZoneInfo | None = None) -> list[Row]:
    """The targets in force at ``at``, as :meth:`TargetSet.rows` gives them (same order, same types).

    Empty when no version was in force yet, or the version in force sets no target.
    """
    version = version_in_force(client, at, zone=zone)
    return [] if version is None else version_rows(client, version.sha256)


def version_rows(client: Client, sha256: str) -> list[Row]:
    """The stored targets of one version, ordered like :meth:`TargetSet.rows`."""
    found = client.query(
        f"SELECT scope, id, team_id, period, metric, value FROM {TARGETS_TABLE} FINAL"
        " WHERE sha256 = {sha256:String}",
        parameters={"sha256": sha256},
    ).result_rows
    rows = [(scope, id_, team, period, metric, _value(metric, value))
            for scope, id_, team, period, metric, value in found]  # fmt: skip
    return sorted(rows, key=lambda r: (r[0], r[1], _METRIC_ORDER.get((r[3], r[4]), len(_METRIC_ORDER))))


def list_versions(client: Client) -> list[TargetVersion]:
    """Every stored version, oldest first: the audit trail behind payroll's targets."""
    found = client.query(
        f"SELECT {', '.join(_VERSION_COLUMNS)} FROM {VERSIONS_TABLE} FINAL ORDER BY loaded_at, sha256"
    ).result_rows
    return [TargetVersion(sha, _as_utc(loaded), eff, source) for sha, loaded, eff, source in found]


_METRIC_ORDER = {key: i for i, key in enumerate(METRIC_KEYS)}


def _value(metric: str, value: Decimal) -> Decimal | int:
    """Counts back to int, money stays Decimal, as in the TargetSet."""
    return value if metric == "revenue" else int(value)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a time zone is required, got naive {moment.isoformat()}")
    return moment


def _utc(moment: datetime) -> datetime:
    return _aware(moment).astimezone(UTC)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
