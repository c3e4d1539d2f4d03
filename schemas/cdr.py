"""CDR schema v1: one call attempt from the dialer, validated before anything counts it.

Validation is strict (no silent coercion of ``"30"`` into 30): a CDR either
matches the contract in DESIGN.md or is rejected with one :class:`Rejection`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.rejections import CDRRejected, Rejection

SCHEMA_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
FUTURE_TOLERANCE = timedelta(minutes=5)
TALK_TOLERANCE_SECONDS = 1
MAX_SECONDS = 86_400
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

Direction = Literal["outbound", "inbound"]
Disposition = Literal[
    "answered", "no_answer", "busy", "failed", "congestion", "voicemail", "abandoned"
]
Amd = Literal["human", "machine", "notsure"]
Outcome = Literal["sale", "callback", "not_interested", "dnc", "wrong_number"]


def _timestamp(value: Any) -> datetime:
    """RFC 3339 with an explicit offset; anything else is a bad timestamp."""
    if not isinstance(value, str):
        raise PydanticCustomError("bad_timestamp", "expected an RFC 3339 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("bad_timestamp", "not an RFC 3339 timestamp") from None
    if parsed.utcoffset() is None:
        raise PydanticCustomError("bad_timestamp", "timestamp needs a UTC offset")
    if not EARLIEST <= parsed < LATEST:
        raise PydanticCustomError("bad_timestamp", "timestamp outside 2000..2200")
    return parsed


def _money(value: Any) -> Decimal | None:
    """A decimal amount from a JSON string or number; bools and NaN/Infinity are refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PydanticCustomError("invalid_value", "expected a decimal string or number")
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise PydanticCustomError("invalid_value", "not a decimal number") from None
    if not amount.is_finite():
        raise PydanticCustomError("invalid_value", "amount must be finite")
    if amount < 0:
        raise PydanticCustomError("invalid_value", "amount must be >= 0")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise PydanticCustomError("invalid_value", "amount has more than 2 decimal places")
    if amount >= Decimal("1e15"):
        raise PydanticCustomError("invalid_value", "amount too large")
    return amount.quantize(Decimal("0.01"))


Id = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=128)]
Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]
Money = Annotated[Decimal | None, BeforeValidator(_money)]
Seconds = Annotated[StrictInt, Field(ge=0, le=MAX_SECONDS)]


class CDR(BaseModel):
    """One call attempt, as the dialer reports it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    schema_version: Literal[1]
    call_id: Id
    version: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
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
    sale_amount: Money = None
    currency: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{3}$")]
    new_customer: StrictBool = False
    list_price: Money = None
    sold_price: Money = None

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> CDR:
        start = self.answered_at or self.dialed_at
        if self.answered_at is not None and self.answered_at < self.dialed_at:
            raise PydanticCustomError("time_order", "answered_at is before dialed_at")
        if self.ended_at < start:
            raise PydanticCustomError("time_order", "ended_at is before the call started")
        expected = (self.ended_at - self.answered_at).total_seconds() if self.answered_at else 0
        if abs(self.talk_seconds - expected) > TALK_TOLERANCE_SECONDS:
            raise PydanticCustomError(
                "talk_mismatch",
                f"talk_seconds {self.talk_seconds} but ended_at - answered_at is {expected:.0f}",
            )
        if (self.sale_amount is not None) != (self.outcome == "sale"):
            raise PydanticCustomError("invalid_value", "sale_amount goes with outcome sale only")
        now = (info.context or {}).get("now") or datetime.now(UTC)
        if self.dialed_at > now + FUTURE_TOLERANCE:
            raise PydanticCustomError("future_event", "dialed_at is more than 5 minutes ahead")
        return self


_REASON_BY_ERROR_TYPE = {
    "missing": Rejection.MISSING_FIELD,
    "extra_forbidden": Rejection.UNKNOWN_FIELD,
    **{reason.value: reason for reason in Rejection},
}


def _rejection_from(error: ValidationError) -> CDRRejected:
    """The first field error decides the reason; the detail names the field."""
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "cdr"
    reason = _REASON_BY_ERROR_TYPE.get(first["type"], Rejection.INVALID_VALUE)
    return CDRRejected(reason, f"{where}: {first['msg']}")


def parse_cdr(raw: bytes, *, now: datetime | None = None) -> CDR:
    """Validate one Kafka message value; raise :class:`CDRRejected` with the reason."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise CDRRejected(Rejection.TOO_LARGE, f"{len(raw)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CDRRejected(Rejection.INVALID_JSON, str(exc)) from None
    if not isinstance(obj, dict):
        raise CDRRejected(Rejection.NOT_AN_OBJECT, f"got JSON {type(obj).__name__}")
    if "schema_version" not in obj:
        raise CDRRejected(Rejection.MISSING_FIELD, "schema_version: Field required")
    if obj["schema_version"] != SCHEMA_VERSION or isinstance(obj["schema_version"], bool):
        raise CDRRejected(
            Rejection.UNKNOWN_SCHEMA_VERSION, f"schema_version {obj['schema_version']!r}"[:200]
        )
    try:
        return CDR.model_validate(obj, context={"now": now})
    except ValidationError as exc:
        raise _rejection_from(exc) from None
