"""Valid CDRs for tests, built by overriding one field at a time."""

from __future__ import annotations

from typing import Any

import orjson

_MISSING = object()


def cdr_dict(**overrides: Any) -> dict[str, Any]:
    """A valid answered outbound sale of 60 s; ``field=_MISSING`` via ``without``."""
    base: dict[str, Any] = {
        "schema_version": 1,
        "call_id": "c-1",
        "version": 1,
        "rep_id": "rep-1",
        "team_id": "team-a",
        "campaign_id": "camp-1",
        "direction": "outbound",
        "dialed_at": "2026-11-26T10:00:00+08:00",
        "answered_at": "2026-11-26T10:00:12+08:00",
        "ended_at": "2026-11-26T10:01:12+08:00",
        "disposition": "answered",
        "amd": "human",
        "talk_seconds": 60,
        "wrap_seconds": 15,
        "outcome": "sale",
        "sale_amount": "1299.00",
        "currency": "CNY",
        "new_customer": True,
        "list_price": "1399.00",
        "sold_price": "1299.00",
    }
    base.update(overrides)
    return base


def unanswered(**overrides: Any) -> dict[str, Any]:
    return cdr_dict(
        answered_at=None, ended_at="2026-11-26T10:00:30+08:00", disposition="no_answer",
        amd=None, talk_seconds=0, wrap_seconds=0, outcome=None, sale_amount=None,
        new_customer=False, list_price=None, sold_price=None,
    ) | overrides  # fmt: skip


def without(field: str, **overrides: Any) -> dict[str, Any]:
    data = cdr_dict(**overrides)
    del data[field]
    return data


def encode(data: Any) -> bytes:
    return orjson.dumps(data)
