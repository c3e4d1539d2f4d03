"""Fault injection for the simulator: duplicates, out-of-order corrections, malformed CDRs.

``interleave`` turns a stream of calls into what a real dialer integration produces: some
calls re-sent verbatim later, some corrected by a version 2 that may even arrive first,
and malformed events in between. Each malformed-event maker starts from a valid CDR and
breaks exactly ONE rule, so the reason the pipeline must give is known in advance (the
truth file records it and ``compute_truth`` checks it against ``parse_cdr``). Makers get
a ``base(shape)`` factory for the valid starting point: shape is "any", "connect"
(answered by a human, no sale), "sale", "unanswered" (no_answer) or "future" (dialed
well ahead of now). ``team_stops`` silences one team part-way through a live run.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from random import Random
from typing import Any, NamedTuple, Protocol

import orjson

from schemas.cdr import DEFAULT_RULES, ID_FIELDS, MAX_MESSAGE_BYTES

Cdr = dict[str, Any]
BaseFactory = Callable[[str], Cdr]
Maker = Callable[[Random, BaseFactory], bytes]

# Fields without a default in schema v1 (schema_version is left out on purpose:
# without it the parser cannot tell a v1 from a v2 event, so the reason is arguable).
REQUIRED = (
    "call_id", "version", "rep_id", "team_id", "campaign_id", "direction",
    "dialed_at", "ended_at", "disposition", "talk_seconds", "currency",
)  # fmt: skip


def _dumps(cdr: Any) -> bytes:
    return orjson.dumps(cdr)


def _shift(ts: str, seconds: float) -> str:
    """Move an RFC 3339 timestamp, keeping its offset and millisecond precision."""
    moved = datetime.fromisoformat(ts) + timedelta(seconds=seconds)
    return moved.isoformat(timespec="milliseconds")


def invalid_json(rng: Random, base: BaseFactory) -> bytes:
    raw = _dumps(base("any"))
    variant = rng.randrange(3)
    if variant == 0:
        return raw[: len(raw) // 2]  # truncated mid-message
    if variant == 1:
        return raw.replace(b'"CNY"', b'"\xff\xfeCNY"')  # invalid UTF-8
    return raw.replace(b'"', b"'")  # Python repr, not JSON


def not_an_object(rng: Random, base: BaseFactory) -> bytes:
    return rng.choice([_dumps([base("any")]), b"42", b'"call"', b"null"])


def too_large(rng: Random, base: BaseFactory) -> bytes:
    """Valid JSON padded with whitespace beyond the size any real CDR has."""
    raw = _dumps(base("any"))
    return raw[:-1] + b" " * (MAX_MESSAGE_BYTES + rng.randrange(1, 1000)) + b"}"


def missing_field(rng: Random, base: BaseFactory) -> bytes:
    cdr = base("any")
    del cdr[rng.choice(REQUIRED)]
    return _dumps(cdr)


def unknown_field(rng: Random, base: BaseFactory) -> bytes:
    cdr = base("any")
    cdr[rng.choice(["agent_mood", "recording_url", "callerid", "talkSeconds"])] = "x"
    return _dumps(cdr)


def unknown_schema_version(rng: Random, base: BaseFactory) -> bytes:
    cdr = base("any")
    cdr["schema_version"] = rng.choice([2, 3, 0])
    return _dumps(cdr)


# (shape of the valid base, how to break one value): wrong type, enum, range or format
_INVALID: tuple[tuple[str, Callable[[Cdr], Cdr]], ...] = (
    ("any", lambda c: {**c, "talk_seconds": "forty"}),
    ("any", lambda c: {**c, "wrap_seconds": -7}),
    ("unanswered", lambda c: {**c, "talk_seconds": -1}),
    ("any", lambda c: {**c, "direction": "sideways"}),
    ("any", lambda c: {**c, "disposition": "hung_up"}),
    ("connect", lambda c: {**c, "amd": "robot"}),
    ("connect", lambda c: {**c, "outcome": "maybe"}),
    ("any", lambda c: {**c, "rep_id": ""}),
    ("any", lambda c: {**c, "version": 0}),
    ("any", lambda c: {**c, "currency": "yuan"}),
    ("any", lambda c: {**c, "new_customer": "yes"}),
    ("sale", lambda c: {**c, "sale_amount": c["sale_amount"] + "5"}),  # "1299.005"
    ("sale", lambda c: {**c, "sale_amount": "-5.00"}),
    ("connect", lambda c: {**c, "sale_amount": "99.00"}),  # without outcome sale
)


def invalid_value(rng: Random, base: BaseFactory) -> bytes:
    shape, breaks = rng.choice(_INVALID)
    return _dumps(breaks(base(shape)))


def bad_timestamp(rng: Random, base: BaseFactory) -> bytes:
    cdr = base("any")
    field = rng.choice(["dialed_at", "ended_at"])
    variant = rng.randrange(5)
    if variant == 0:
        cdr[field] = cdr[field][:-6]  # offset stripped: local time of unknown zone
    elif variant == 1:
        cdr[field] = "yesterday at nine"
    elif variant == 2:
        cdr[field] = f"{cdr[field][:10]}T25:00:00+08:00"  # hour 25
    elif variant == 3:
        cdr[field] = "1970" + cdr[field][4:]  # before any dialer existed
    else:
        cdr[field] = int(datetime.fromisoformat(cdr[field]).timestamp())  # epoch number
    return _dumps(cdr)


def time_order(rng: Random, base: BaseFactory) -> bytes:
    if rng.random() < 0.5:
        # answered before dialed; talk_seconds follows answered_at so only the order is wrong
        cdr = base("connect")
        back = rng.randint(2, 30)
        cdr["answered_at"] = _shift(cdr["dialed_at"], -back)
        talk = datetime.fromisoformat(cdr["ended_at"]) - datetime.fromisoformat(cdr["answered_at"])
        cdr["talk_seconds"] = int(talk.total_seconds())
    else:
        cdr = base("unanswered")  # ended before dialed on a call nobody answered
        cdr["ended_at"] = _shift(cdr["dialed_at"], -rng.randint(1, 30))
    return _dumps(cdr)


def talk_mismatch(rng: Random, base: BaseFactory) -> bytes:
    cdr = base("connect")
    cdr["talk_seconds"] += rng.randint(5, 90)
    return _dumps(cdr)


def future_event(rng: Random, base: BaseFactory) -> bytes:
    return _dumps(base("future"))


# what a dialer's admin screen or a copy-paste slips into an id (the floor's default rules)
_BAD_IDS: tuple[Callable[[str], str], ...] = (
    lambda _: " ", lambda _: "\u3000", lambda v: f"{v}\u200b", lambda v: f"\u202e{v}",
    lambda v: f"{v}\x00", lambda v: f" {v}", lambda v: f"{v}\t",
)  # fmt: skip


def bad_identifier(rng: Random, base: BaseFactory) -> bytes:
    cdr = base("any")
    field = rng.choice(ID_FIELDS)
    cdr[field] = rng.choice(_BAD_IDS)(cdr[field])
    return _dumps(cdr)


def currency_mismatch(rng: Random, base: BaseFactory) -> bytes:
    cdr = base(rng.choice(["sale", "any"]))
    cdr["currency"] = rng.choice([c for c in ("USD", "EUR", "XXX", "CNY") if c != DEFAULT_RULES.currency])
    return _dumps(cdr)


def amount_too_large(rng: Random, base: BaseFactory) -> bytes:
    cdr = base("sale")
    over = DEFAULT_RULES.max_amount + rng.choice([Decimal("0.01"), Decimal(1), DEFAULT_RULES.max_amount * 99])
    cdr[rng.choice(["sale_amount", "list_price", "sold_price"])] = f"{over:.2f}"
    return _dumps(cdr)


def too_old(rng: Random, base: BaseFactory) -> bytes:
    """A valid call moved back past the horizon, every timestamp by the same days."""
    cdr = base("any")
    days = DEFAULT_RULES.late_horizon_days + rng.randint(1, 400)
    for field in ("dialed_at", "answered_at", "ended_at"):
        if cdr[field] is not None:
            cdr[field] = _shift(cdr[field], -days * 86_400)
    return _dumps(cdr)


FAULTS: dict[str, Maker] = {
    "invalid_json": invalid_json,
    "not_an_object": not_an_object,
    "too_large": too_large,
    "missing_field": missing_field,
    "unknown_field": unknown_field,
    "invalid_value": invalid_value,
    "unknown_schema_version": unknown_schema_version,
    "bad_timestamp": bad_timestamp,
    "time_order": time_order,
    "talk_mismatch": talk_mismatch,
    "future_event": future_event,
    "bad_identifier": bad_identifier,
    "currency_mismatch": currency_mismatch,
    "amount_too_large": amount_too_large,
    "too_old": too_old,
}
REASONS = tuple(FAULTS)


def make_bad(rng: Random, base: BaseFactory) -> tuple[str, bytes]:
    """A malformed event and the rejection reason the pipeline must report for it."""
    reason = rng.choice(REASONS)
    return reason, FAULTS[reason](rng, base)


def team_stops(
    calls: Iterable[Any], team_of: Callable[[Any], str], team: str, after_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Any]:
    """Live calls of a floor where ``team`` stops dialing ``after_s`` seconds in (a paused
    campaign, trunks down, logins lost): its calls are never placed from then on, the other
    teams dial on. What TeamNotDialing must catch."""
    stops_at = clock() + after_s
    for call in calls:
        if team_of(call) != team or clock() < stops_at:
            yield call


class SimEvent(NamedTuple):
    """One Kafka record; ``reason`` is the expected rejection for kind "bad"."""

    key: bytes
    value: bytes
    kind: str  # call, late, duplicate, correction, bad
    reason: str | None = None


class Traffic(Protocol):
    """What ``interleave`` needs from the call model."""

    def key(self, rec: Any) -> bytes: ...
    def dumps(self, rec: Any) -> bytes: ...
    def correct(self, rec: Any) -> Any: ...
    def bad(self) -> tuple[bytes, str, bytes]: ...  # key, reason, value


def interleave(
    traffic: Traffic, rng: Random, records: Iterable[Any], *, duplicates: float,
    corrections: float, bad: float, max_gap: int,
) -> Iterator[SimEvent]:  # fmt: skip
    """Calls in order, with duplicates and corrections 1..max_gap events later.

    A third of the corrections go out BEFORE the version they correct; duplicates repeat
    version 1's exact bytes. Everything still pending is flushed when ``records`` ends.
    """
    pending: list[tuple[int, int, SimEvent]] = []
    seq = itertools.count()
    for i, rec in enumerate(records):
        key = traffic.key(rec)
        original = SimEvent(key, traffic.dumps(rec), rec.kind)
        first, later = original, None
        if rng.random() < corrections:
            fixed = SimEvent(key, traffic.dumps(traffic.correct(rec)), "correction")
            first, later = (fixed, original) if rng.random() < 1 / 3 else (original, fixed)
        yield first
        if later is not None:
            heapq.heappush(pending, (i + rng.randint(1, max_gap), next(seq), later))
        if rng.random() < duplicates:
            dup = SimEvent(key, original.value, "duplicate")
            heapq.heappush(pending, (i + rng.randint(1, max_gap), next(seq), dup))
        if rng.random() < bad:
            bad_key, reason, value = traffic.bad()
            yield SimEvent(bad_key, value, "bad", reason)
        while pending and pending[0][0] <= i:
            yield heapq.heappop(pending)[2]
    while pending:
        yield heapq.heappop(pending)[2]
