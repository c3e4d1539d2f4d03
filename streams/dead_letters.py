"""Dead letters keep the original bytes; the why and where travel as headers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import faust

from streams.batch import DeadLetter


def headers_of(letter: DeadLetter, source_topic: str) -> list[tuple[str, bytes]]:
    event = letter.event
    return [
        ("reason", letter.reason.value.encode()),
        ("detail", letter.detail.encode("utf-8", "replace")[:2000]),
        ("source_topic", source_topic.encode()),
        ("source_partition", str(event.partition).encode()),
        ("source_offset", str(event.offset).encode()),
    ]


async def send_dead_letters(
    topic: faust.TopicT, letters: Sequence[DeadLetter], source_topic: str
) -> None:
    """Publish and wait for the broker's ack, so the offsets behind them may commit."""
    pending = [
        await topic.send(
            key=letter.event.key,
            value=letter.event.value or b"",
            headers=headers_of(letter, source_topic),
        )
        for letter in letters
    ]
    await asyncio.gather(*pending)
