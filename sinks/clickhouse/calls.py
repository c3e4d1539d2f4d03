"""How one accepted CDR becomes one row of ``calls``."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from schemas.cdr import CDR
from schemas.kpis import KPI_COUNTERS, Counters

OFFSET_BITS = 40
_OFFSET_MASK = (1 << OFFSET_BITS) - 1

COLUMNS: tuple[str, ...] = (
    "call_id", "version", "rank", "rep_id", "team_id", "campaign_id", "direction",
    "dialed_at", "answered_at", "ended_at", "business_day", "business_hour", "hour_start",
    "disposition", "amd", "talk_seconds", "wrap_seconds", "outcome", "sale_amount",
    "currency", "new_customer", "list_price", "sold_price",
    *(counter.column for counter in KPI_COUNTERS),
    "kafka_partition", "kafka_offset",
)  # fmt: skip


def rank(version: int, offset: int) -> int:
    """Which copy of a call wins: the highest version, then the first one received.

    Packing both into one integer lets ClickHouse's ReplacingMergeTree and the
    worker's live state apply the very same rule.
    """
    if not 0 <= offset <= _OFFSET_MASK:
        raise ValueError(f"Kafka offset {offset} does not fit in {OFFSET_BITS} bits")
    return (version << OFFSET_BITS) | (_OFFSET_MASK - offset)


Row = tuple[object, ...]  # one ``calls`` row, in COLUMNS order
RANK, BUSINESS_DAY = COLUMNS.index("rank"), COLUMNS.index("business_day")


def call_row(cdr: CDR, counts: Counters, partition: int, offset: int, zone: ZoneInfo) -> Row:
    """The ``calls`` row of an accepted CDR: where it came from, when and what it counts for.

    ``hour_start`` is the instant the local business hour began: on the autumn DST day
    01:00 happens twice, and it tells the two apart where ``business_hour`` cannot."""
    local = cdr.dialed_at.astimezone(zone)  # business day and hour from one conversion (fold kept)
    return (
        cdr.call_id, cdr.version, rank(cdr.version, offset), cdr.rep_id, cdr.team_id,
        cdr.campaign_id, cdr.direction, cdr.dialed_at, cdr.answered_at, cdr.ended_at,
        local.date(), local.hour, local.replace(minute=0, second=0, microsecond=0),
        cdr.disposition, cdr.amd, cdr.talk_seconds, cdr.wrap_seconds, cdr.outcome,
        cdr.sale_amount, cdr.currency, cdr.new_customer, cdr.list_price, cdr.sold_price,
        *counts,
        partition, offset,
    )  # fmt: skip
