"""CDR schema v1: one call attempt from the dialer, validated before anything counts it.

Validation is strict (no silent coercion of ``"30"`` into 30): a CDR either
matches the contract in DESIGN.md or is rejected with one :class:`Rejection`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from schemas.rejections import CDRRejected, Rejection

SCHEMA_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
FUTURE_TOLERANCE_SECONDS = 300
TALK_TOLERANCE_SECONDS = 1
MAX_SECONDS = 86_400
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(2200, 1, 1, tzinfo=UTC).timestamp()

Direction = Literal["outbound", "inbound"]
Disposition = Literal[
    "answered", "no_answer", "busy", "failed", "congestion", "voicemail", "abandoned"
]
Amd = Literal["human", "machine", "notsure"]
Outcome = Literal["sale", "callback", "not_interested", "dnc", "wrong_number"]


def _rfc3339_text(value: Any) -> Any:
    """Only RFC 3339 text reaches the parser: not epoch numbers, nor digit strings."""
    if not (isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[7] == "-"):
        raise PydanticCustomError("bad_timestamp", "expected an RFC 3339 timestamp with an offset")
    return value


Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
# Lax only here: after the shape check the value is Python text, which strict mode refuses.
Timestamp = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_rfc3339_text)]
Money = Annotated[Decimal, Field(ge=0, lt=Decimal("1e15"), decimal_places=2, allow_inf_nan=False)]
Seconds = Annotated[int, Field(ge=0, le=MAX_SECONDS)]
TIMESTAMP_FIELDS = frozenset({"dialed_at", "answered_at", "ended_at"})


class CDR(BaseModel):
    """One call attempt, as the dialer reports it."""

    # strict: "30" is not 30 and true is not 1; parsed from bytes by pydantic-core's JSON
    # reader, which is what makes validation cheap enough for the hot path.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    schema_version: int
    call_id: Id
    version: Annotated[int, Field(ge=1, le=1_000_000)]
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
    sale_amount: Money | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    new_customer: bool = False
    list_price: Money | None = None
    sold_price: Money | None = None

    @field_validator("schema_version")
    @classmethod
    def _v1(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise PydanticCustomError("unknown_schema_version", f"schema_version {value} is not 1")
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> CDR:
        # Epoch seconds once per field: comparing aware datetimes costs an offset lookup each.
        dialed = self.dialed_at.timestamp()
        ended = self.ended_at.timestamp()
        answered = None if self.answered_at is None else self.answered_at.timestamp()
        for name, moment in (("dialed_at", dialed), ("ended_at", ended), ("answered_at", answered)):
            if moment is not None and not EARLIEST <= moment < LATEST:
                raise PydanticCustomError("bad_timestamp", f"{name} outside 2000..2200")
        if answered is not None and answered < dialed:
            raise PydanticCustomError("time_order", "answered_at is before dialed_at")
        if ended < (dialed if answered is None else answered):
            raise PydanticCustomError("time_order", "ended_at is before the call started")
        expected = 0.0 if answered is None else ended - answered
        if abs(self.talk_seconds - expected) > TALK_TOLERANCE_SECONDS:
            raise PydanticCustomError(
                "talk_mismatch",
                f"talk_seconds {self.talk_seconds} but ended_at - answered_at is {expected:.0f}",
            )
        if (self.sale_amount is not None) != (self.outcome == "sale"):
            raise PydanticCustomError("invalid_value", "sale_amount goes with outcome sale only")
        now = (info.context or {}).get("now") or datetime.now(UTC)
        if dialed > now.timestamp() + FUTURE_TOLERANCE_SECONDS:
            raise PydanticCustomError("future_event", "dialed_at is more than 5 minutes ahead")
        return self


_REASON_BY_ERROR_TYPE = {
    "json_invalid": Rejection.INVALID_JSON,
    "json_type": Rejection.INVALID_JSON,
    "model_type": Rejection.NOT_AN_OBJECT,
    "model_attributes_type": Rejection.NOT_AN_OBJECT,
    "missing": Rejection.MISSING_FIELD,
    "extra_forbidden": Rejection.UNKNOWN_FIELD,
    **{reason.value: reason for reason in Rejection},
}


def _reason(error: ErrorDetails) -> Rejection:
    field = error["loc"][0] if error["loc"] else None
    if field == "schema_version" and error["type"] != "missing":
        return Rejection.UNKNOWN_SCHEMA_VERSION
    if field in TIMESTAMP_FIELDS and error["type"] != "missing":
        return Rejection.BAD_TIMESTAMP
    return _REASON_BY_ERROR_TYPE.get(error["type"], Rejection.INVALID_VALUE)


def _rejection_from(error: ValidationError) -> CDRRejected:
    """One reason per CDR: a wrong schema version outranks everything, then field order."""
    errors = error.errors(include_url=False, include_input=False)
    reasons = [_reason(e) for e in errors]
    version_error = Rejection.UNKNOWN_SCHEMA_VERSION
    pick = reasons.index(version_error) if version_error in reasons else 0
    where = ".".join(str(part) for part in errors[pick]["loc"]) or "cdr"
    return CDRRejected(reasons[pick], f"{where}: {errors[pick]['msg']}"[:500])


def parse_cdr(raw: bytes, *, now: datetime | None = None) -> CDR:
    """Validate one Kafka message value; raise :class:`CDRRejected` with the reason."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise CDRRejected(Rejection.TOO_LARGE, f"{len(raw)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        return CDR.model_validate_json(raw, context={"now": now})
    except ValidationError as exc:
        raise _rejection_from(exc) from None
