"""Dead letters keep the original bytes; the why and where travel as headers.

One exception: a message too big to republish safely (over 512 KiB; the producer's request
limit is about 1 MB) keeps its first 64 KiB, with ``truncated``, ``original_size`` and
``original_sha256`` headers; the whole message stays at its source offset.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

import faust

from schemas.cdr import MAX_MESSAGE_BYTES
from schemas.rejections import why_headers
from streams.routing import DeadLetter

REPUBLISH_LIMIT = 512 * 1024
KEPT_BYTES = MAX_MESSAGE_BYTES


def value_of(letter: DeadLetter) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The bytes to republish, and the headers that say what was cut, if anything was."""
    value = letter.event.value or b""
    if len(value) <= REPUBLISH_LIMIT:
        return value, []
    return value[:KEPT_BYTES], [
        ("truncated", b"true"),
        ("original_size", str(len(value)).encode()),
        ("original_sha256", hashlib.sha256(value).hexdigest().encode()),
    ]


def headers_of(letter: DeadLetter, source_topic: str) -> list[tuple[str, bytes]]:
    event = letter.event
    return [
        *why_headers(letter.reason.value, letter.detail),
        ("source_topic", source_topic.encode()),
        ("source_partition", str(event.partition).encode()),
        ("source_offset", str(event.offset).encode()),
    ]


async def send_dead_letters(
    topic: faust.TopicT, letters: Sequence[DeadLetter], source_topic: str
) -> None:
    """Publish and wait for the broker's ack, so the offsets behind them may commit."""
    pending = []
    for letter in letters:
        value, extra = value_of(letter)
        headers = headers_of(letter, source_topic) + extra
        pending.append(await topic.send(key=letter.event.key, value=value, headers=headers))
    await asyncio.gather(*pending)
