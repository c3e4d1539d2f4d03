"""CDR schema v1: one call attempt from the dialer, validated before anything counts it.

Validation is strict (no silent coercion of ``"30"`` into 30): a CDR either
matches the contract in DESIGN.md or is rejected with one :class:`Rejection`.
It runs for every Kafka message, so the schema is a ``msgspec.Struct`` read straight
from the bytes by one reusable decoder; why a message was rejected is worked out
afterwards, on the rare error path (:mod:`schemas.cdr_errors`).

Two layers: the schema (fixed, the same for every floor) and :class:`CdrRules`, the
floor's own settings (its one currency, the largest amount, how old a call may be),
checked after the schema, in that order, each with its own rejection reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Context, Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta
from msgspec.structs import force_setattr

from schemas.cdr_errors import CrossFieldError, Explainer
from schemas.identifiers import MAX_ID_LENGTH, IdentifierError, normalised_id
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

Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID_LENGTH)]
# RFC 3339 text with an offset only: msgspec reads no epoch numbers for datetimes in strict mode.
Timestamp = Annotated[datetime, Meta(tz=True)]
Seconds = Annotated[int, Meta(ge=0, le=MAX_SECONDS)]
# \Z, not $: Python's $ also matches before a trailing newline.
Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}\Z")]
TIMESTAMP_FIELDS = frozenset({"dialed_at", "answered_at", "ended_at"})
MONEY_FIELDS = ("sale_amount", "list_price", "sold_price")
ID_FIELDS = ("call_id", "rep_id", "team_id", "campaign_id")


@dataclass(frozen=True, slots=True)
class CdrRules:
    """A floor's rules on top of schema v1 (``Settings.cdr_rules``; defaults = default settings).

    ``currency``: the one currency revenue is summed in (``""``: any); ``max_amount``: the
    largest sale_amount, list_price or sold_price; ``late_horizon_days``: a call dialed more
    than this many 24-hour days before the worker's clock is refused (too late to count).
    """

    currency: str = "CNY"
    max_amount: Decimal = Decimal("10000000.00")
    late_horizon_days: int = 35


DEFAULT_RULES = CdrRules()
# schema v1 alone: for checking a message before it reaches the worker (``callfloor ingest``),
# where the floor's own rules are applied and their rejects kept in the DLQ
SCHEMA_ONLY = CdrRules(currency="", max_amount=MONEY_LIMIT, late_horizon_days=366 * 300)


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


def _plain_ids(raw: bytes, cdr: CDR) -> bool:
    """True when the ids need no Unicode work: printable ASCII without edge spaces.

    Cheap C checks, measured against the alternatives (``benchmarks/cdr_checks.py``): JSON
    carries no raw byte below 0x20 (msgspec refuses one), so an ASCII message without a
    backslash (92) or DEL (127) has printable strings only; ``strip()`` returns the very
    same string when there is nothing to strip."""
    call_id, rep_id, team_id, campaign_id = cdr.call_id, cdr.rep_id, cdr.team_id, cdr.campaign_id
    return (
        raw.isascii() and 92 not in raw and 127 not in raw
        and call_id.strip() is call_id and rep_id.strip() is rep_id
        and team_id.strip() is team_id and campaign_id.strip() is campaign_id
    )  # fmt: skip


def _normalise_ids(cdr: CDR) -> None:
    """Refuse a bad id (:mod:`schemas.identifiers`), store the others NFKC-normalised."""
    for name in ID_FIELDS:
        value = getattr(cdr, name)
        try:
            normal = normalised_id(value)
        except IdentifierError as exc:
            raise CDRRejected(Rejection.BAD_IDENTIFIER, f"{name}: {exc}") from None
        if normal is not value:
            force_setattr(cdr, name, normal)  # the struct is frozen for everyone after this


def _field_rule(name: str, value: object) -> tuple[Rejection, str] | None:
    if name in MONEY_FIELDS and isinstance(value, Decimal):
        problem = money_problem(value)
        return None if problem is None else (Rejection.INVALID_VALUE, problem)
    if name in ID_FIELDS and isinstance(value, str):
        try:
            normalised_id(value)
        except IdentifierError as exc:
            return Rejection.BAD_IDENTIFIER, str(exc)
    return None


DECODER = msgspec.json.Decoder(CDR)
_REASONS_BY_FIELD = {
    "schema_version": Rejection.UNKNOWN_SCHEMA_VERSION,
    **dict.fromkeys(TIMESTAMP_FIELDS, Rejection.BAD_TIMESTAMP),
}
_explain = Explainer(DECODER, CDR, _REASONS_BY_FIELD, _field_rule)


_Seen = tuple[datetime | None, tzinfo | None, CdrRules | None, datetime, datetime]
_last_window: _Seen = (None, None, None, datetime.min, datetime.max)


def _window(dialed: datetime, now: datetime | None, rules: CdrRules) -> tuple[datetime, datetime]:
    """The oldest and newest accepted ``dialed_at``, in dialed's own zone (comparing then
    skips offset lookups); kept for the next CDR of the batch, which shares ``now``."""
    global _last_window
    zone = dialed.tzinfo
    at = datetime.fromtimestamp(time.time(), UTC) if now is None else now
    oldest = (at - timedelta(days=rules.late_horizon_days)).astimezone(zone)
    newest = (at + FUTURE_TOLERANCE).astimezone(zone)
    _last_window = (now, zone, rules, oldest, newest)
    return oldest, newest


def _floor_rules(cdr: CDR, now: datetime | None, rules: CdrRules) -> None:
    """Raise the rejection of a valid v1 CDR this floor does not take (checked in this order).

    A batch passes one ``now`` and its CDRs share a few offsets (msgspec: one tzinfo per
    offset), so the window of the previous CDR is nearly always the one to use."""
    dialed = cdr.dialed_at
    seen_now, seen_zone, seen_rules, oldest, newest = _last_window
    if now is None or now is not seen_now or dialed.tzinfo is not seen_zone or rules is not seen_rules:
        oldest, newest = _window(dialed, now, rules)
    if dialed > newest:
        raise CDRRejected(Rejection.FUTURE_EVENT, "cdr: dialed_at is more than 5 minutes ahead")
    if dialed < oldest:
        raise CDRRejected(
            Rejection.TOO_OLD, f"cdr: dialed_at is more than {rules.late_horizon_days} days before now"
        )
    if cdr.currency != rules.currency and rules.currency:
        raise CDRRejected(
            Rejection.CURRENCY_MISMATCH, f"currency: {cdr.currency}, this floor counts {rules.currency}"
        )
    if cdr.sale_amount is not None or cdr.list_price is not None or cdr.sold_price is not None:
        limit = rules.max_amount
        for name in MONEY_FIELDS:
            amount = getattr(cdr, name)
            if amount is not None and amount > limit:
                raise CDRRejected(Rejection.AMOUNT_TOO_LARGE, f"{name}: {amount} is above {limit}")


def parse_cdr(raw: bytes, *, now: datetime | None = None, rules: CdrRules = DEFAULT_RULES) -> CDR:
    """Validate one Kafka message value against schema v1 and the floor's ``rules``;
    raise :class:`CDRRejected` with the reason."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise CDRRejected(Rejection.TOO_LARGE, f"{len(raw)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        cdr = DECODER.decode(raw)
    except msgspec.ValidationError:
        cdr = _explain(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise CDRRejected(Rejection.INVALID_JSON, f"cdr: {exc}"[:500]) from None
    if not _plain_ids(raw, cdr):
        _normalise_ids(cdr)  # a bad id with other problems is found, in field order, by _explain
    # No validation context in msgspec: the clock and the floor's settings are applied here.
    _floor_rules(cdr, now, rules)
    return cdr
