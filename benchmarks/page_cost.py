"""What the wallboard page costs the browser that shows it, while the floor moves.

An in-process wallboard (its HTTP server and its push loop; no broker: a synthetic floor of
``--reps`` reps, 60 % of them gaining calls every ``--every`` seconds) serves the page to
headless Chromium at 1920x1080. Figures while the floor moves: Chromium's CPU (every process
it started) as a share of one core, and the page's main-thread time per second from DevTools'
Performance metrics (tasks, script, layout, style recalculation) with the number of layouts.
Baseline in the same run: the same page for the same time while the floor stands still.

    .venv/bin/python -m benchmarks.page_cost --reps 100 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import random
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web

from benchmarks.harness import conditions, emit, main_guard, note
from schemas.settings import Settings
from schemas.snapshots import RepSnapshot
from tests.support.browser import Chromium
from tests.support.ports import free_port
from tests.support.processes import tree_cpu_seconds
from tests.support.waiting import wait_for
from wallboard.server import PAGES, Wallboard

WARM_UP_SECONDS = 3.0
PAGE_METRICS = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "LayoutCount")


class SyntheticFloor:
    """A wallboard whose floor is fed here, not from the snapshot topic."""

    def __init__(self, reps: int, every: float) -> None:
        self.settings = Settings(timezone="UTC", wallboard_port=free_port())
        self.board = Wallboard(self.settings)
        self.every = every
        self.moving = threading.Event()
        self.dials = {f"rep-{i:03d}": 0 for i in range(reps)}
        self.day = datetime.now(UTC).date().isoformat()

    def serve(self) -> None:
        app = web.Application()
        for path in PAGES:
            app.router.add_get(path, self.board.page)
        app.router.add_get("/events", self.board.events)
        app.cleanup_ctx.append(self._background)
        threading.Thread(target=web.run_app, daemon=True, name="wallboard", args=(app,), kwargs={
            "host": "127.0.0.1", "port": self.settings.wallboard_port, "print": None, "handle_signals": False,
        }).start()  # fmt: skip

    async def _background(self, _app: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(self.board.broadcast()), asyncio.create_task(self._feed())]
        yield
        for task in tasks:
            task.cancel()

    async def _feed(self) -> None:
        rng = random.Random(1)
        while True:
            moving = self.moving.is_set()
            now = time.time()
            for rep in sorted(self.dials):
                if moving and rng.random() < 0.6:
                    self.dials[rep] += rng.randint(1, 3)
                dials = self.dials[rep]
                today = {"dials": dials, "connects": dials // 5, "valid_connects": dials // 10,
                         "talk_seconds": dials * 7, "sales": dials // 50}  # fmt: skip
                snapshot = RepSnapshot(rep, f"team-{int(rep[4:]) // 10:02d}", self.day, today,
                                       {"sales": dials // 50}, 0, "bench", 1, now)  # fmt: skip
                self.board.floor.apply(snapshot, now)
            if moving:
                self.board.feed.changed.set()
            await asyncio.sleep(self.every)


def measure(browser: Chromium, seconds: float) -> dict[str, float]:
    def page_metrics() -> dict[str, float]:
        return {m["name"]: m["value"] for m in browser.call("Performance.getMetrics")["metrics"]}

    before, cpu_before = page_metrics(), tree_cpu_seconds(browser.process.pid)
    time.sleep(seconds)
    after, cpu_after = page_metrics(), tree_cpu_seconds(browser.process.pid)
    figures = {"chromium_cpu_percent": round(100 * (cpu_after - cpu_before) / seconds, 1)}
    for name in PAGE_METRICS:
        key = "layouts_per_s" if name == "LayoutCount" else f"{name[:-8].lower()}_s_per_s"
        figures[key] = round((after[name] - before[name]) / seconds, 3)
    return figures


def run(args: argparse.Namespace) -> None:
    floor = SyntheticFloor(args.reps, args.every)
    floor.serve()
    browser = Chromium(1920, 1080)
    try:
        browser.open(f"http://127.0.0.1:{floor.settings.wallboard_port}/")
        wait_for(lambda: browser.evaluate("document.querySelectorAll('.rep[data-rep]').length") == args.reps,
                 60, f"the page to show {args.reps} reps")  # fmt: skip
        browser.call("Performance.enable")
        time.sleep(WARM_UP_SECONDS)  # first paint, fonts
        note(f"baseline: {args.seconds:g}s with the floor standing still")
        still = measure(browser, args.seconds)
        note(f"{args.seconds:g}s with the floor moving every {args.every:g}s")
        floor.moving.set()
        moving = measure(browser, args.seconds)
        shown = browser.evaluate("document.querySelector('.rep[data-rep] .num').textContent")
    finally:
        browser.close()
    if shown in ("", "0"):
        raise RuntimeError("the page never showed the floor moving")
    cond = conditions(reps=args.reps, every_s=args.every, seconds=args.seconds, screen="1920x1080")
    emit("page_cost", "the page while the floor moves", **moving, **cond)
    emit("page_cost", "baseline: the same page while the floor stands still", **still, **cond)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--every", type=float, default=0.05, help="seconds between changes of the floor")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each phase is measured")
    args = parser.parse_args()
    if args.reps < 1 or args.seconds <= 0 or args.every <= 0:
        parser.error("--reps must be at least 1, --seconds and --every above 0")
    main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
