"""Hypothesis strategies for hostile CDR messages, shared by the chaos scenario and the
unit-level fuzz test.

Every hostile message breaks the schema in one known way and comes with the set of
rejection reasons the contract allows for it (docs/integrate/cdr.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from schemas.cdr import MAX_MESSAGE_BYTES
from tests.chaos.cdrs import SHAPES, cdr

# A fixed moment keeps the unit test deterministic; the chaos scenario passes its own.
FIXED_NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FIELDS = tuple(cdr("c", FIXED_NOW))
REQUIRED = ("schema_version", "call_id", "version", "rep_id", "team_id", "campaign_id", "direction",
            "dialed_at", "ended_at", "disposition", "talk_seconds", "currency")  # fmt: skip
IDS = ("call_id", "rep_id", "team_id", "campaign_id")
TIMESTAMPS = ("dialed_at", "answered_at", "ended_at")
SECONDS = ("talk_seconds", "wrap_seconds")
MONEY = ("sale_amount", "list_price", "sold_price")
ONE_MIB = 1024 * 1024
# a stray byte, an invalid pair, a UTF-16 surrogate, overlong, 5-byte, truncated, lone continuation
INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80",
                b"\xe2\x82", b"\x80")  # fmt: skip

ints = st.integers(-(2**63), 2**64 - 1)  # what JSON encoders put on the wire
json_scalars = st.none() | st.booleans() | ints | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                max_size=3),
    max_leaves=8,
)  # fmt: skip

# per field: JSON values of a type schema v1 does not allow there
_not_str = st.none() | st.booleans() | ints | st.floats(allow_nan=False) | st.lists(json_scalars, max_size=2)
_not_int = (st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=8)
            | ints.map(str) | st.lists(ints, max_size=2))  # fmt: skip
WRONG_TYPES: dict[str, st.SearchStrategy[Any]] = {
    **dict.fromkeys(IDS, _not_str),
    "schema_version": _not_int | ints.filter(lambda v: v != 1),
    "version": _not_int,
    "direction": _not_str | st.text(max_size=12).filter(lambda v: v not in ("outbound", "inbound")),
    "disposition": _not_str | st.sampled_from(["ANSWERED", "hung_up", "", "answered "]),
    "currency": _not_str | st.sampled_from(["cny", "yuan", "", "CNYY", "C1Y"]),
    "new_customer": ints | st.text(max_size=5) | st.none() | st.floats(allow_nan=False),
    **dict.fromkeys(SECONDS, _not_int),
    **dict.fromkeys(TIMESTAMPS[:1] + TIMESTAMPS[2:], _not_str | st.sampled_from(["yesterday", "2026-11-26"])),
    "answered_at": st.booleans() | ints | st.floats(allow_nan=False) | st.sampled_from(["now", ""]),
}
REASONS_BY_FIELD = {
    **dict.fromkeys(TIMESTAMPS, {"bad_timestamp"}),
    "schema_version": {"unknown_schema_version"},
}


@st.composite
def valid_cdrs(draw: st.DrawFn, now: datetime = FIXED_NOW, reps: tuple[str, ...] = ("rep-1",),
               zone: Any = None) -> dict[str, Any]:  # fmt: skip
    """A valid CDR dialed within the last three days before ``now``."""
    shape = draw(st.sampled_from(SHAPES))
    ago = draw(st.integers(min_value=600, max_value=3 * 86_400))
    return cdr(
        f"h-{draw(st.integers(0, 10**12))}",
        now - timedelta(seconds=ago),
        rep=draw(st.sampled_from(reps)),
        shape=shape,
        talk=draw(st.integers(0 if shape in ("machine", "abandoned") else 1, 7_200)),
        wrap=draw(st.integers(0, 600)),
        cents=draw(st.integers(0, 10**9)),
        new_customer=draw(st.booleans()),
        version=draw(st.integers(1, 1_000_000)),
        zone=zone,
        direction=draw(st.sampled_from(["outbound", "inbound"])),
    )


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value)


KINDS = (
    "random_bytes", "invalid_utf8", "not_json", "not_an_object", "wrong_type", "missing_field",
    "extra_field", "huge_string", "over_64k", "far_past", "far_future", "near_future",
    "negative_duration", "absurd_duration", "nan_amount", "time_order", "talk_mismatch",
)  # fmt: skip


@st.composite
def hostile(
    draw: st.DrawFn, now: datetime = FIXED_NOW, kind: str | None = None
) -> tuple[str, bytes, frozenset[str] | None]:
    """(kind, message bytes, allowed reasons or None for "any reason of the closed set")."""
    base = draw(valid_cdrs(now))
    kind = kind or draw(st.sampled_from(KINDS))
    if kind == "random_bytes":
        return kind, draw(st.binary(max_size=300)), None
    if kind == "invalid_utf8":
        bad = draw(st.sampled_from(INVALID_UTF8))
        field = draw(st.sampled_from(IDS + ("currency",)))
        raw = _dumps(base).replace(_dumps(base[field]), b'"' + base[field].encode()[:3] + bad + b'"', 1)
        return kind, raw, frozenset({"invalid_json"})
    if kind == "not_json":
        raw = _dumps(base)
        cut = draw(st.integers(0, len(raw) - 1))
        variants = [raw[:cut], raw.replace(b'"', b"'"), b"\xef\xbb\xbf" + raw, raw + b"}", b"{,}"]
        return kind, draw(st.sampled_from(variants)), frozenset({"invalid_json"})
    if kind == "not_an_object":
        value = draw(st.lists(json_values, max_size=3) | json_scalars)
        return kind, _dumps(value), frozenset({"not_an_object"})
    if kind == "wrong_type":
        field = draw(st.sampled_from(sorted(WRONG_TYPES)))
        base[field] = draw(WRONG_TYPES[field])
        return kind, _dumps(base), frozenset(REASONS_BY_FIELD.get(field, {"invalid_value"}))
    if kind == "missing_field":
        del base[draw(st.sampled_from(REQUIRED))]
        return kind, _dumps(base), frozenset({"missing_field"})
    if kind == "extra_field":
        name = draw(st.text(min_size=1, max_size=30).filter(lambda n: n not in FIELDS))
        base[name] = draw(json_values)
        return kind, _dumps(base), frozenset({"unknown_field"})
    if kind == "huge_string":
        field = draw(st.sampled_from(IDS + ("currency", "disposition", "direction")))
        base[field] = draw(st.sampled_from("x'\"\\é营")) * draw(st.integers(129, 20_000))
        return kind, _dumps(base), frozenset({"invalid_value", "too_large"})
    if kind == "over_64k":
        padding = draw(st.integers(MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES + 50_000))
        raw = _dumps(base)
        return kind, raw[:-1] + b" " * (padding - len(raw) + 1) + b"}", frozenset({"too_large"})
    if kind == "far_past":
        year = draw(st.integers(1, 1999))
        base["dialed_at"] = f"{year:04d}-06-01T10:00:00+00:00"
        return kind, _dumps(base), frozenset({"bad_timestamp"})
    if kind in ("far_future", "near_future"):
        # base calls are at most 3 days old: 4 days on is ahead of now
        days = draw(st.integers(75_000, 2_900_000) if kind == "far_future" else st.integers(4, 60_000))
        for field in TIMESTAMPS:
            if base[field] is not None:
                moved = datetime.fromisoformat(base[field]) + timedelta(days=days)
                base[field] = moved.isoformat(timespec="milliseconds")
        # past 2200 a timestamp is bad; before it, dialed_at is just too far ahead
        return kind, _dumps(base), frozenset({"bad_timestamp", "future_event"})
    if kind == "negative_duration":
        field = draw(st.sampled_from(SECONDS))
        base[field] = draw(st.integers(-(2**63), -1))
        return kind, _dumps(base), frozenset({"invalid_value"})
    if kind == "absurd_duration":
        field = draw(st.sampled_from(SECONDS))
        base[field] = draw(st.integers(86_401, 2**64 - 1) | st.floats(min_value=1e6, allow_infinity=False))
        return kind, _dumps(base), frozenset({"invalid_value"})
    if kind == "nan_amount":
        field = draw(st.sampled_from(MONEY))
        token = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]))
        as_text = draw(st.booleans())
        base |= {"outcome": "sale", "sale_amount": "10.00"}
        value = f'"{token}"' if as_text else token
        raw = _dumps(base | {field: "@@"}).replace(b'"@@"', value.encode())
        return kind, raw, frozenset({"invalid_value", "invalid_json"})
    if kind == "time_order":
        base["ended_at"] = (datetime.fromisoformat(base["dialed_at"]) - timedelta(seconds=draw(
            st.integers(1, 10**6)))).isoformat()  # fmt: skip
        return kind, _dumps(base), frozenset({"time_order", "bad_timestamp"})
    # talk_mismatch: billed talk disagrees with the timestamps by more than a second
    if base["answered_at"] is None:
        base["talk_seconds"] = draw(st.integers(2, 86_400))
    else:
        base["talk_seconds"] += draw(st.sampled_from([-1, 1])) * draw(st.integers(2, 600))
        if base["talk_seconds"] < 0:
            base["talk_seconds"] += 1_200
    return kind, _dumps(base), frozenset({"talk_mismatch"})


def one_mib_messages(now: datetime = FIXED_NOW) -> list[tuple[str, bytes, frozenset[str]]]:
    """Valid-looking CDRs padded to exactly 1 MiB, 1 MiB - 1 and just over 64 KiB."""
    out = []
    for size in (ONE_MIB, ONE_MIB - 1, MAX_MESSAGE_BYTES + 1):
        raw = _dumps(cdr(f"big-{size}", now - timedelta(hours=1)))
        out.append(("one_mib" if size > 10**6 else "over_64k", raw[:-1] + b" " * (size - len(raw)) + b"}",
                    frozenset({"too_large"})))  # fmt: skip
    return out


def draw_examples(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` examples of ``strategy``, the same ones every run (derandomized, no database)."""
    out: list[Any] = []

    @settings(max_examples=n, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def collect(example: Any) -> None:
        out.append(example)

    collect()
    return out
