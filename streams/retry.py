"""The one retry policy: capped exponential backoff with jitter, for every loop that must not give up.

A worker waits out ClickHouse or the broker rather than crash-loop (invariant 5): the writer's
insert, the dead letters, seeding a partition, counting a chunk and, at start, the topics all
retry through here. Cancellation is never caught (``asyncio.CancelledError`` is not an
``Exception``): a stopping worker abandons the wait at once, and whatever it was retrying stays
unacknowledged for whoever holds the partitions next.

The log says what failed once per change of reason, not once per attempt: an hour-long
ClickHouse outage is one warning (and one "recovered" line), not a warning every 10 s; a
different error during it is a new warning.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: ``first``, then times ``factor`` up to ``cap``; each delay is
    spread by ±``jitter`` (a fraction) so workers that failed together do not retry together."""

    first: float = 0.2
    factor: float = 2.0
    cap: float = 10.0
    jitter: float = 0.1

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay * (1 + random.uniform(-self.jitter, self.jitter))
            delay = min(delay * self.factor, self.cap)


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 300 else text[:300] + "..."


class _Narrator:
    """Logs a failure when its reason differs from the previous one, and the recovery."""

    def __init__(self, what: str, logger: logging.Logger) -> None:
        self.what, self.logger = what, logger
        self.last: str | None = None
        self.failures = 0

    def failed(self, exc: BaseException, delay: float) -> None:
        self.failures += 1
        reason = _reason(exc)
        if reason != self.last:
            self.logger.warning(
                "%s failed (%s); retrying with backoff, next in %.1fs", self.what, reason, delay, exc_info=exc
            )
            self.last = reason
        else:
            self.logger.debug("%s failed again (attempt %d); next in %.1fs", self.what, self.failures, delay)

    def recovered(self) -> None:
        if self.failures:
            self.logger.info("%s succeeded after %d failed attempts", self.what, self.failures)


async def retry_forever(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff = Backoff(),
    before_retry: Callable[[BaseException], Awaitable[None] | None] | None = None,
    logger: logging.Logger = log,
) -> T:
    """``await attempt()`` until it returns. ``before_retry`` runs after each failure (undo
    half-done work, drop a broken client); it may be a coroutine function."""
    narrator = _Narrator(what, logger)
    delays = backoff.delays()
    while True:
        try:
            result = await attempt()
        except Exception as exc:  # noqa: BLE001 - anything but cancellation: wait, do not crash
            delay = next(delays)
            narrator.failed(exc, delay)
            if before_retry is not None and (pending := before_retry(exc)) is not None:
                await pending
            await asyncio.sleep(delay)
            continue
        narrator.recovered()
        return result


def retry_for_a_while(
    what: str,
    attempt: Callable[[], T],
    *,
    attempts: int,
    backoff: Backoff = Backoff(first=1.0, cap=5.0),
    give_up_on: tuple[type[BaseException], ...] = (),
    logger: logging.Logger = log,
) -> T | None:
    """The blocking form, bounded: ``attempt()`` up to ``attempts`` times; None when every
    attempt failed. Exceptions in ``give_up_on`` (a refused password) are raised at once."""
    narrator = _Narrator(what, logger)
    delays = backoff.delays()
    for _ in range(attempts):
        try:
            result = attempt()
        except give_up_on:
            raise
        except Exception as exc:  # noqa: BLE001 - not reachable yet: wait and ask again
            delay = next(delays)
            narrator.failed(exc, delay)
            time.sleep(delay)
            continue
        narrator.recovered()
        return result
    return None
