"""Hand-made, valid CDR v1 events for the chaos scenarios (the simulator makes realistic
traffic; these make the exact shapes a scenario needs)."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

import orjson

from streams.live_metrics import partition_for

SHAPES = ("no_answer", "connect", "sale", "machine", "abandoned")


def stamp(moment: datetime, zone: tzinfo | None = None) -> str:
    """RFC 3339 with offset, millisecond precision, in ``zone`` (default: as given)."""
    return (moment.astimezone(zone) if zone else moment).isoformat(timespec="milliseconds")


def cdr(
    call_id: str,
    dialed: datetime,
    *,
    version: int = 1,
    rep: str = "rep-1",
    team: str = "team-a",
    campaign: str = "camp-1",
    shape: str = "connect",
    talk: int = 60,
    wrap: int = 10,
    cents: int = 129900,
    new_customer: bool = False,
    zone: tzinfo | None = None,
    direction: str = "outbound",
) -> dict[str, Any]:
    """One consistent call attempt; ``talk`` is exactly ended_at - answered_at."""
    base: dict[str, Any] = {
        "schema_version": 1, "call_id": call_id, "version": version, "rep_id": rep,
        "team_id": team, "campaign_id": campaign, "direction": direction,
        "dialed_at": stamp(dialed, zone), "answered_at": None, "ended_at": None,
        "disposition": "no_answer", "amd": None, "talk_seconds": 0, "wrap_seconds": 0,
        "outcome": None, "sale_amount": None, "currency": "CNY", "new_customer": False,
        "list_price": None, "sold_price": None,
    }  # fmt: skip
    if shape == "no_answer":
        base["ended_at"] = stamp(dialed + timedelta(seconds=25), zone)
        return base
    answered = dialed + timedelta(seconds=6)
    ended = answered + timedelta(seconds=talk)
    base |= {"answered_at": stamp(answered, zone), "ended_at": stamp(ended, zone), "talk_seconds": talk}
    if shape == "machine":
        return base | {"disposition": "voicemail", "amd": "machine"}
    if shape == "abandoned":
        return base | {"disposition": "abandoned", "amd": "human"}
    base |= {"disposition": "answered", "amd": "human", "wrap_seconds": wrap, "outcome": "callback"}
    if shape == "sale":
        money = f"{cents // 100}.{cents % 100:02d}"
        base |= {"outcome": "sale", "sale_amount": money, "sold_price": money,
                 "list_price": money, "new_customer": new_customer}  # fmt: skip
    return base


def encode(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


def message(event: dict[str, Any]) -> tuple[bytes, bytes]:
    """(key, value) as the dialer sends it: key = rep_id."""
    return event["rep_id"].encode(), encode(event)


def reps_on_distinct_partitions(prefix: str, n: int, partitions: int) -> list[str]:
    """``n`` rep ids (prefix-1, prefix-2, ...) whose keys land on ``n`` different partitions."""
    chosen: dict[int, str] = {}
    i = 0
    while len(chosen) < n:
        i += 1
        rep = f"{prefix}-{i}"
        chosen.setdefault(partition_for(rep, partitions), rep)
    return list(chosen.values())
