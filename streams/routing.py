"""A chunk of Kafka records in, rows for ClickHouse and dead letters out.

Pure logic over :class:`LiveState`: no Kafka, no ClickHouse, so every routing
rule (reject, duplicate, correction, late) is unit-testable.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from schemas.cdr import CDR, DEFAULT_RULES, CdrRules, parse_cdr
from schemas.kpis import counters
from schemas.rejections import CDRRejected, Rejection
from sinks.clickhouse.calls import BUSINESS_DAY, RANK, Row, call_row
from streams.live_state import CallFacts, LiveState, Verdict

log = logging.getLogger(__name__)


class KafkaRecord(Protocol):
    """What the pipeline reads of a Kafka record: aiokafka's ConsumerRecord as fetched
    (no copy is made per record), or a :class:`RawEvent`."""

    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


class RawEvent(NamedTuple):
    """A Kafka record built by hand (tests, tools)."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected message, kept byte for byte, with why and where it came from."""

    event: KafkaRecord
    reason: Rejection
    detail: str


@dataclass
class PieceOutcome:
    rows: list[Row] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    verdicts: Counter[Verdict] = field(default_factory=Counter)
    newest_event: datetime | None = None


def validate(event: KafkaRecord, now: datetime, rules: CdrRules = DEFAULT_RULES) -> CDR | DeadLetter:
    """Never raises: whatever the bytes are, the answer is a call or a dead letter."""
    try:
        cdr = parse_cdr(event.value or b"", now=now, rules=rules)
    except CDRRejected as rejected:
        return DeadLetter(event, rejected.reason, rejected.detail)
    except Exception as exc:  # noqa: BLE001 - a validator bug must not stop the floor
        log.exception("unexpected error validating offset %d", event.offset)
        return DeadLetter(event, Rejection.INVALID_VALUE, f"validator error: {exc!r}"[:500])
    return cdr


def route_piece(
    events: Iterable[KafkaRecord],
    state: LiveState,
    *,
    zone: ZoneInfo,
    valid_call_seconds: int,
    now: datetime,
    rules: CdrRules = DEFAULT_RULES,
) -> PieceOutcome:
    """Route each event; the partitions of ``events`` must already be seeded in ``state``.

    ``rules``: the floor's currency, amount bound and horizon (``Settings.cdr_rules``)."""
    outcome = PieceOutcome()
    state.roll()
    rows, verdicts = outcome.rows, outcome.verdicts
    newest = None
    for event in events:
        cdr = validate(event, now, rules)
        if isinstance(cdr, DeadLetter):
            outcome.dead_letters.append(cdr)
            continue
        counts = counters(cdr, valid_call_seconds)
        row = call_row(cdr, counts, event.partition, event.offset, zone)
        # call_row put the rank (an int) and the business day (a date) at these positions
        facts = CallFacts(cdr.call_id, row[RANK], cdr.rep_id, cdr.team_id, row[BUSINESS_DAY], counts)  # type: ignore[arg-type]
        verdict = state.apply(event.partition, facts)
        verdicts[verdict] += 1
        if verdict is not Verdict.STALE:
            rows.append(row)
        if newest is None or cdr.dialed_at > newest:
            newest = cdr.dialed_at
    outcome.newest_event = newest
    return outcome
