"""A call's legs -> one CDR v1 message, validated by the pipeline's own ``parse_cdr``.

Whatever the format, the call counts with its primary leg's figures (see ``legs``):
``dialed_at`` is the earliest leg start; answered calls take the primary leg's answer, end
and talk seconds; unanswered calls end at the last leg's end with 0 talk seconds. A call
the schema refuses is unmappable with the schema's own reason, so nothing reaches the
topic that the worker would dead-letter.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

import orjson

from ingest.legs import Leg, call_version, primary_leg
from ingest.rejects import IngestRejection, Unmappable
from schemas.cdr import SCHEMA_ONLY, parse_cdr
from schemas.rejections import CDRRejected

ZERO_AMOUNT = "0.00"
EMPTY: Mapping[str, str] = MappingProxyType({})


def _shared(legs: list[Leg], primary: Leg, name: str, tried: Mapping[str, str]) -> str:
    """Rep, team or campaign: the primary leg's, else the first non-helper leg's that has one.

    A ``Local/...;2`` helper leg runs in the dialplan's helper context and on no rep's phone:
    its values are used only when the call has no other leg, so row order never decides.
    """
    value: str | None = getattr(primary, name)
    if value and not primary.helper:
        return value  # the usual case, kept cheap: this runs three times for every call
    pool = [leg for leg in (primary, *legs) if not leg.helper] or [primary, *legs]
    shared: str | None = next((found for leg in pool if (found := getattr(leg, name))), None)
    if not shared:
        lines = ", ".join(str(leg.line) for leg in legs)
        rules = tried.get(name, "the format's built-in rules")
        raise Unmappable(IngestRejection.NO_IDENTITY,
                         f"no {name} on any leg (line {lines}): tried {rules}; "
                         f"set its rules in --mapping (docs/integrate/dialers.md)")  # fmt: skip
    return shared


def _amount(text: str | None) -> str:
    if text is None:
        return ZERO_AMOUNT
    try:
        Decimal(text)
    except InvalidOperation:
        raise Unmappable(IngestRejection.BAD_NUMBER, f"sale amount {text!r} is not a number") from None
    return text


def call_to_cdr(legs: list[Leg], *, direction: str, currency: str,
                tried: Mapping[str, str] = EMPTY) -> tuple[str, bytes]:  # fmt: skip
    """(rep_id, CDR v1 JSON bytes) of one call; raise :class:`Unmappable`.

    ``tried`` names the identity rules per field, for a ``no_identity`` reject to list.
    """
    primary = primary_leg(legs)
    rep_id = _shared(legs, primary, "rep_id", tried)
    answered = primary.answered
    outcome = primary.outcome
    document = {
        "schema_version": 1,
        "call_id": primary.call_id,
        "version": call_version(legs, primary),
        "rep_id": rep_id,
        "team_id": _shared(legs, primary, "team_id", tried),
        "campaign_id": _shared(legs, primary, "campaign_id", tried),
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
