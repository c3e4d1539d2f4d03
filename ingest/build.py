"""A call's legs -> one CDR v1 message, validated by the pipeline's own ``parse_cdr``.

Whatever the format, the call counts with its primary leg's figures (see ``legs``):
``dialed_at`` is the earliest leg start; answered calls take the primary leg's answer, end
and talk seconds; unanswered calls end at the last leg's end with 0 talk seconds. A call
the schema refuses is unmappable with the schema's own reason, so nothing reaches the
topic that the worker would dead-letter.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import orjson

from ingest.legs import Leg, call_version, primary_leg
from ingest.rejects import IngestRejection, Unmappable
from schemas.cdr import SCHEMA_ONLY, parse_cdr
from schemas.rejections import CDRRejected

ZERO_AMOUNT = "0.00"


def _shared(legs: list[Leg], primary: Leg, name: str) -> str:
    value = getattr(primary, name) or next((getattr(leg, name) for leg in legs if getattr(leg, name)), None)
    if not value:
        lines = ", ".join(str(leg.line) for leg in legs)
        raise Unmappable(IngestRejection.NO_IDENTITY,
                         f"no {name} from the mapping's rules (line {lines}); see --mapping")  # fmt: skip
    return value


def _amount(text: str | None) -> str:
    if text is None:
        return ZERO_AMOUNT
    try:
        Decimal(text)
    except InvalidOperation:
        raise Unmappable(IngestRejection.BAD_NUMBER, f"sale amount {text!r} is not a number") from None
    return text


def call_to_cdr(legs: list[Leg], *, direction: str, currency: str) -> tuple[str, bytes]:
    """(rep_id, CDR v1 JSON bytes) of one call; raise :class:`Unmappable`."""
    primary = primary_leg(legs)
    rep_id = _shared(legs, primary, "rep_id")
    answered = primary.answered
    outcome = primary.outcome
    document = {
        "schema_version": 1,
        "call_id": primary.call_id,
        "version": call_version(legs, primary),
        "rep_id": rep_id,
        "team_id": _shared(legs, primary, "team_id"),
        "campaign_id": _shared(legs, primary, "campaign_id"),
        "direction": direction,
        "dialed_at": min(leg.started for leg in legs),
        "answered_at": answered,
        "ended_at": primary.ended if answered is not None else max(leg.ended for leg in legs),
        "disposition": primary.disposition,
        "amd": primary.amd,
        "talk_seconds": primary.talk_seconds if answered is not None else 0,
        "wrap_seconds": 0,
        "outcome": outcome,
        "sale_amount": _amount(primary.sale_amount) if outcome == "sale" else None,
        "currency": currency,
        "new_customer": False,
        "list_price": None,
        "sold_price": None,
    }
    value = orjson.dumps(document)
    try:
        cdr = parse_cdr(value, rules=SCHEMA_ONLY)  # the worker applies the floor's rules (its DLQ keeps them)
    except CDRRejected as exc:
        raise Unmappable(exc.reason.value, exc.detail) from None
    # Keyed by the rep as the worker will count it (NFKC): a rep typed full-width on one
    # phone and plain on another stays on one partition, so one worker holds its numbers.
    return cdr.rep_id, value
