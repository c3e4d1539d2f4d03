"""A large targets file is parsed off the event loop: the loop keeps running during the parse.

Proven by responsiveness, not by timing: the parse itself waits until a ticker task on the
loop has ticked. Were the parse on the loop, the ticker could never run and the wait would
give up; in a thread, the ticker ticks while the parse is in progress.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from schemas.targets import MAX_BYTES, TargetSet
from streams import targets_watch
from streams.targets_watch import TargetsWatcher

REPS = 10_000
SMALL = "version: 1\nreps: {rep-1: {team: t, daily: {dials: 5}}}\n"


def big_file(dials: int) -> str:
    lines = ["version: 1", "reps:"]
    lines += [
        f'  rep-{i:05d}: {{team: team-{i // 10:04d}, daily: {{dials: {dials}, connects: 20}}, '
        f'monthly: {{revenue: "50000.00"}}}}'
        for i in range(REPS)
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def save(path: Path, text: str, tick: int) -> None:
    path.write_text(text)
    stamp = 1_800_000_000_000_000_000 + tick * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def test_a_10000_rep_file_is_parsed_while_the_loop_keeps_ticking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "targets.yaml"
    save(path, SMALL, 1)
    watcher = TargetsWatcher(path)
    watcher.load_initial()
    big = big_file(250)
    assert 900_000 < len(big) <= MAX_BYTES  # about the 1 MB file of the report

    ticked = threading.Event()
    loop_ran_during_parse: list[bool] = []
    real_parse = targets_watch.parse_targets

    def parse_once_the_loop_ticked(data: bytes, source: str) -> TargetSet:
        ticked.clear()
        loop_ran_during_parse.append(ticked.wait(timeout=30))
        return real_parse(data, source)

    monkeypatch.setattr(targets_watch, "parse_targets", parse_once_the_loop_ticked)

    async def scenario() -> tuple[bool, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                ticked.set()
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        try:
            save(path, big, 2)
            reloaded = await watcher.check_async()
        finally:
            task.cancel()
        return reloaded, ticks

    reloaded, ticks = asyncio.run(scenario())
    assert loop_ran_during_parse == [True]
    assert reloaded and ticks > 1
    assert watcher.current is not None and len(watcher.current.reps) == REPS
    assert watcher.current.rep("rep-09999")[("day", "dials")] == 250


def test_the_thread_changes_nothing_until_the_loop_takes_the_result(tmp_path: Path) -> None:
    """A broken save is reported once, from the loop, and the old targets stay."""
    path = tmp_path / "targets.yaml"
    save(path, SMALL, 1)
    reported = []
    watcher = TargetsWatcher(path, on_error=reported.append)
    first = watcher.load_initial()
    save(path, "version: 1\nreps: {rep-1: {team: t, daily: {dials: -1}}}\n", 2)

    async def twice() -> list[bool]:
        return [await watcher.check_async(), await watcher.check_async()]

    assert asyncio.run(twice()) == [False, False]
    assert watcher.current is first and len(reported) == 1 and watcher.errors == 1
