"""How one accepted CDR becomes one row of ``calls``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Self
from zoneinfo import ZoneInfo

from schemas.cdr import CDR
from schemas.metrics import COUNTER_NAMES, Contribution

OFFSET_BITS = 40
_OFFSET_MASK = (1 << OFFSET_BITS) - 1

COLUMNS: tuple[str, ...] = (
    "call_id", "version", "rank", "rep_id", "team_id", "campaign_id", "direction",
    "dialed_at", "answered_at", "ended_at", "business_day", "business_hour",
    "disposition", "amd", "talk_seconds", "wrap_seconds", "outcome", "sale_amount",
    "currency", "new_customer", "list_price", "sold_price",
    "dials", "connects", "valid_connects", "counted_talk", "counted_wrap",
    "sales", "revenue_cents", "new_customers", "abandoned",
    "kafka_partition", "kafka_offset",
)  # fmt: skip


# Counter name (schemas.metrics.Contribution) -> the ``calls`` column that holds it.
# Talk and wrap get their own columns because the raw fields count on connects only.
COUNTER_COLUMNS: dict[str, str] = {
    name: {"talk_seconds": "counted_talk", "wrap_seconds": "counted_wrap"}.get(name, name)
    for name in COUNTER_NAMES
}


def rank(version: int, offset: int) -> int:
    """Which copy of a call wins: the highest version, then the first one received.

    Packing both into one integer lets ClickHouse's ReplacingMergeTree and the
    worker's live state apply the very same rule.
    """
    if not 0 <= offset <= _OFFSET_MASK:
        raise ValueError(f"Kafka offset {offset} does not fit in {OFFSET_BITS} bits")
    return (version << OFFSET_BITS) | (_OFFSET_MASK - offset)


@dataclass(frozen=True, slots=True)
class AcceptedCall:
    """A validated CDR with where it came from, when it counts and what it counts for."""

    cdr: CDR
    contribution: Contribution
    partition: int
    offset: int
    business_day: date
    business_hour: int

    @classmethod
    def of(cls, cdr: CDR, contribution: Contribution, partition: int, offset: int, zone: ZoneInfo) -> Self:
        local = cdr.dialed_at.astimezone(zone)  # business day and hour from one conversion
        return cls(cdr, contribution, partition, offset, local.date(), local.hour)

    @property
    def rank(self) -> int:
        return rank(self.cdr.version, self.offset)

    def row(self) -> tuple[object, ...]:
        cdr, c = self.cdr, self.contribution
        return (
            cdr.call_id, cdr.version, self.rank, cdr.rep_id, cdr.team_id, cdr.campaign_id,
            cdr.direction, cdr.dialed_at, cdr.answered_at, cdr.ended_at,
            self.business_day, self.business_hour,
            cdr.disposition, cdr.amd, cdr.talk_seconds, cdr.wrap_seconds, cdr.outcome,
            cdr.sale_amount, cdr.currency, cdr.new_customer, cdr.list_price, cdr.sold_price,
            c.dials, c.connects, c.valid_connects, c.talk_seconds, c.wrap_seconds,
            c.sales, c.revenue_cents, c.new_customers, c.abandoned,
            self.partition, self.offset,
        )  # fmt: skip
