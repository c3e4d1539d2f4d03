"""What workers tell the wallboard: per-rep snapshots and worker heartbeats.

Both travel on one compacted topic (``CALLFLOOR_SNAPSHOT_TOPIC``). A rep snapshot is
keyed by ``rep_id``, so compaction keeps each rep's newest one; a heartbeat is keyed
by ``HEARTBEAT_KEY_PREFIX`` + the worker's id, and keeps each worker's newest one. A
reader that starts from the beginning therefore rebuilds the whole floor.

``generation`` is the Kafka consumer-group generation the worker held when it wrote
the message: in one generation each partition has exactly one owner, and a later
generation's owner supersedes an earlier one's (see ``wallboard.floor``).
"""

from __future__ import annotations

import msgspec

HEARTBEAT_KEY_PREFIX = "\x00heartbeat:"


class RepSnapshot(msgspec.Struct, tag="rep", frozen=True):
    """One rep's counters for ``day``, as the worker owning its partition has them now.

    ``today`` holds every KPI counter by name (revenue in cents); ``month`` the monthly
    counters month to date, today included."""

    rep_id: str
    team_id: str
    day: str
    today: dict[str, int]
    month: dict[str, int]
    partition: int
    worker: str
    generation: int
    ts: float


class Heartbeat(msgspec.Struct, tag="heartbeat", frozen=True):
    """A worker is alive and reporting ``partitions`` (of ``partition_count``) as of ``ts``.

    ``lag`` is the messages it has not processed yet; while it is above 0 its numbers are
    only as fresh as ``last_processed``. ``campaigns`` maps a campaign to its 30-day
    (abandoned, connects) from ClickHouse, ``campaigns_24h`` to those of the last 24 hours
    (absent from workers older than the 24-hour regime)."""

    worker: str
    generation: int
    partitions: list[int]
    partition_count: int
    ts: float
    last_processed: float
    lag: int
    campaigns: dict[str, tuple[int, int]]
    campaigns_24h: dict[str, tuple[int, int]] = msgspec.field(default_factory=dict)


Message = RepSnapshot | Heartbeat
_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[Message] = msgspec.json.Decoder(Message)


def encode(message: Message) -> bytes:
    return _encoder.encode(message)


def decode(data: bytes) -> Message:
    """Raises ``msgspec.ValidationError``/``DecodeError`` on anything that is not a message."""
    return _decoder.decode(data)


def key_of(message: Message) -> bytes:
    if isinstance(message, Heartbeat):
        return (HEARTBEAT_KEY_PREFIX + message.worker).encode()
    return message.rep_id.encode()
