"""CDR schema v1: one call attempt from the dialer, validated before anything counts it.

Validation is strict (no silent coercion of ``"30"`` into 30): a CDR either
matches the contract in DESIGN.md or is rejected with one :class:`Rejection`.
It runs for every Kafka message, so the schema is a ``msgspec.Struct`` read straight
from the bytes by one reusable decoder; why a message was rejected is worked out
afterwards, on the rare error path (:mod:`schemas.cdr_errors`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Context, Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas.cdr_errors import CrossFieldError, Explainer
from schemas.rejections import CDRRejected, Rejection

SCHEMA_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
FUTURE_TOLERANCE_SECONDS = 300
FUTURE_TOLERANCE = timedelta(seconds=FUTURE_TOLERANCE_SECONDS)
TALK_TOLERANCE_SECONDS = 1
MAX_SECONDS = 86_400
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(2200, 1, 1, tzinfo=UTC).timestamp()
# years inside EARLIEST..LATEST whatever the offset (always under 24 h)
SAFE_FIRST_YEAR, SAFE_LAST_YEAR = 2001, 2198
MONEY_LIMIT = Decimal("1e15")
ZERO = Decimal(0)
CENT = Decimal("0.01")
# the thread's context may trap Inexact or round short; this one does neither below 1e15
_quantize = Context(prec=40, traps=[]).quantize

Direction = Literal["outbound", "inbound"]
Disposition = Literal["answered", "no_answer", "busy", "failed", "congestion", "voicemail", "abandoned"]
Amd = Literal["human", "machine", "notsure"]
Outcome = Literal["sale", "callback", "not_interested", "dnc", "wrong_number"]

Id = Annotated[str, Meta(min_length=1, max_length=128)]
# RFC 3339 text with an offset only: msgspec reads no epoch numbers for datetimes in strict mode.
Timestamp = Annotated[datetime, Meta(tz=True)]
Seconds = Annotated[int, Meta(ge=0, le=MAX_SECONDS)]
# \Z, not $: Python's $ also matches before a trailing newline.
Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}\Z")]
TIMESTAMP_FIELDS = frozenset({"dialed_at", "answered_at", "ended_at"})
MONEY_FIELDS = ("sale_amount", "list_price", "sold_price")


def money_problem(amount: Decimal) -> str | None:
    """What is wrong with an amount, in the rules msgspec's ``Meta`` cannot state for Decimal."""
    if not amount.is_finite():
        return "expected a finite number"
    if not ZERO <= amount < MONEY_LIMIT:  # ZERO: comparing with int 0 converts it every time
        return "expected 0 <= amount < 1e15"
    # trailing zeros are not places ("12.340" is fine); quantize, not as_tuple(): 4x cheaper
    if _quantize(amount, CENT) != amount:
        return "more than 2 decimal places"
    return None


class CDR(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, gc=False):
    """One call attempt, as the dialer reports it (gc=False: scalars only, no cycles to find)."""

    schema_version: Literal[1]
    call_id: Id
    version: Annotated[int, Meta(ge=1, le=1_000_000)]
    rep_id: Id
    team_id: Id
    campaign_id: Id
    direction: Direction
    dialed_at: Timestamp
    answered_at: Timestamp | None = None
    ended_at: Timestamp
    disposition: Disposition
    amd: Amd | None = None
    talk_seconds: Seconds
    wrap_seconds: Seconds = 0
    outcome: Outcome | None = None
    sale_amount: Decimal | None = None
    currency: Currency
    new_customer: bool = False
    list_price: Decimal | None = None
    sold_price: Decimal | None = None

    def __post_init__(self) -> None:
        for name, amount in (("sale_amount", self.sale_amount), ("list_price", self.list_price),
                             ("sold_price", self.sold_price)):  # fmt: skip
            if amount is not None and (problem := money_problem(amount)):
                raise CrossFieldError(Rejection.INVALID_VALUE, f"{name}: {problem}")
        dialed, answered, ended = self.dialed_at, self.answered_at, self.ended_at
        for name, moment in (("dialed_at", dialed), ("ended_at", ended), ("answered_at", answered)):
            # the year settles it unless an offset could carry the instant across a bound
            if (
                moment is not None
                and not SAFE_FIRST_YEAR <= moment.year <= SAFE_LAST_YEAR
                and not EARLIEST <= moment.timestamp() < LATEST
            ):
                raise CrossFieldError(Rejection.BAD_TIMESTAMP, f"cdr: {name} outside 2000..2200")
        # msgspec shares one tzinfo per offset, so these compare without offset lookups
        if answered is not None and answered < dialed:
            raise CrossFieldError(Rejection.TIME_ORDER, "cdr: answered_at is before dialed_at")
        if ended < (dialed if answered is None else answered):
            raise CrossFieldError(Rejection.TIME_ORDER, "cdr: ended_at is before the call started")
        expected = 0.0 if answered is None else (ended - answered).total_seconds()
        if abs(self.talk_seconds - expected) > TALK_TOLERANCE_SECONDS:
            raise CrossFieldError(
                Rejection.TALK_MISMATCH,
                f"cdr: talk_seconds {self.talk_seconds} but ended_at - answered_at is {expected:.0f}",
            )
        if (self.sale_amount is not None) != (self.outcome == "sale"):
            raise CrossFieldError(Rejection.INVALID_VALUE, "cdr: sale_amount goes with outcome sale only")


def _field_rule(name: str, value: object) -> str | None:
    return money_problem(value) if name in MONEY_FIELDS and isinstance(value, Decimal) else None


DECODER = msgspec.json.Decoder(CDR)
_REASONS_BY_FIELD = {
    "schema_version": Rejection.UNKNOWN_SCHEMA_VERSION,
    **dict.fromkeys(TIMESTAMP_FIELDS, Rejection.BAD_TIMESTAMP),
}
_explain = Explainer(DECODER, CDR, _REASONS_BY_FIELD, _field_rule)


_last_limit: tuple[datetime | None, tzinfo | None, datetime] = (None, None, datetime.max)


def _ahead(dialed: datetime, now: datetime | None) -> bool:
    """Whether ``dialed`` is more than the tolerance after ``now``.

    A batch passes one ``now`` and its CDRs share a few offsets (and msgspec one tzinfo per
    offset), so the limit is kept in dialed's zone: comparing then skips two offset lookups.
    """
    global _last_limit
    if now is None:
        return dialed.timestamp() > time.time() + FUTURE_TOLERANCE_SECONDS
    seen_now, seen_zone, limit = _last_limit
    if now is not seen_now or dialed.tzinfo is not seen_zone:
        limit = (now + FUTURE_TOLERANCE).astimezone(dialed.tzinfo)
        _last_limit = (now, dialed.tzinfo, limit)
    return dialed > limit


def parse_cdr(raw: bytes, *, now: datetime | None = None) -> CDR:
    """Validate one Kafka message value; raise :class:`CDRRejected` with the reason."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise CDRRejected(Rejection.TOO_LARGE, f"{len(raw)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        cdr = DECODER.decode(raw)
    except msgspec.ValidationError:
        cdr = _explain(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise CDRRejected(Rejection.INVALID_JSON, f"cdr: {exc}"[:500]) from None
    # No validation context in msgspec: the clock check needs ``now``, so it lives here.
    if _ahead(cdr.dialed_at, now):
        raise CDRRejected(Rejection.FUTURE_EVENT, "cdr: dialed_at is more than 5 minutes ahead")
    return cdr
