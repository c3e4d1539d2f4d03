"""streams.retry, the one retry policy: backoff capped and jittered, cancellation never caught,
one warning per change of reason, and the bounded blocking form."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from streams.retry import Backoff, retry_for_a_while, retry_forever

FAST = Backoff(first=0.001, factor=2.0, cap=0.004, jitter=0.1)


def test_delays_grow_to_the_cap_each_within_its_jitter() -> None:
    delays = list(itertools.islice(Backoff(first=1, factor=2, cap=8, jitter=0.1).delays(), 6))
    for got, nominal in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert nominal * 0.9 <= got <= nominal * 1.1


def test_failures_are_retried_until_success_undoing_each_first(caplog: pytest.LogCaptureFixture) -> None:
    outcomes = iter([ConnectionError("down"), ConnectionError("down"), TimeoutError("slow"), "stored"])
    undone: list[str] = []

    async def attempt() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def undo(exc: BaseException) -> None:
        undone.append(type(exc).__name__)

    with caplog.at_level(logging.DEBUG, logger="streams.retry"):
        got = asyncio.run(retry_forever("writing", attempt, backoff=FAST, before_retry=undo))
    assert got == "stored"
    assert undone == ["ConnectionError", "ConnectionError", "TimeoutError"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings  # one per reason: "down" once, then "slow"
    assert "ConnectionError: down" in warnings[0] and "TimeoutError: slow" in warnings[1]
    assert any("succeeded after 3 failed attempts" in r.getMessage() for r in caplog.records)


def test_cancellation_is_not_retried() -> None:
    attempts = 0

    async def attempt() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("down")

    async def scenario() -> None:
        task = asyncio.ensure_future(retry_forever("writing", attempt, backoff=Backoff(first=60)))
        await asyncio.sleep(0.05)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(scenario())
    assert attempts == 1


def test_the_bounded_form_gives_up_with_none_or_at_once_on_a_final_error() -> None:
    calls = 0

    def never() -> int:
        nonlocal calls
        calls += 1
        raise ConnectionError("no broker")

    assert retry_for_a_while("topics", never, attempts=3, backoff=FAST) is None and calls == 3

    def refused() -> int:
        raise PermissionError("bad password")

    with pytest.raises(PermissionError):
        retry_for_a_while("topics", refused, attempts=3, backoff=FAST, give_up_on=(PermissionError,))
    assert retry_for_a_while("topics", lambda: 7, attempts=1) == 7
