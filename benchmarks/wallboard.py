"""How long from a CDR being produced to its number on the wallboard's connected screens,
beside produce -> /metrics in the same run, and the wallboard's CPU per connected screen.

A worker and ``callfloor wallboard`` run on a stack of their own. Live simulated CDRs are
produced at a steady rate (2,000/s by default). ``--browsers`` of the screens (1 by
default) are the page itself in headless Chromium at 1920x1080, which notes when the dials
its DOM shows change (after each redraw; the next frame paints them); the others are SSE
clients of ``/events``, exactly what the page's EventSource receives, noting when the dials
in an event change. The k-th outbound call of a rep is visible on a screen at the first
moment it shows >= k dials (same rule as ``benchmarks.latency`` for /metrics, scraped every
0.1 s).

Where the time goes, from the same run: the benchmark also reads the snapshot topic itself.
Per call, produce -> the worker published a snapshot showing it (the snapshot's own ``ts``),
and -> that snapshot readable on the topic (when a plain consumer here received it); the
rest, to the screens, is the wallboard's (its fetch, its push, the SSE hop).

CPU per screen: the wallboard's CPU seconds per second during a phase with no screen
connected, then during the measured phase with ``--screens`` connected, at the same rate;
the difference divided by the screens.

    .venv/bin/python -m benchmarks.wallboard --rate 2000 --seconds 30 --screens 20
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiohttp
import orjson
from kafka import KafkaConsumer, TopicPartition

from benchmarks.harness import Stack, conditions, emit, main_guard, note, sink_overrides, wait_assigned
from benchmarks.latency import (
    Background,
    MetricsWatcher,
    add_latency_arguments,
    metrics_latencies,
    percentiles,
    produce_paced,
    simulate,
)
from deploy.local.broker import wait_for_port
from deploy.local.demo import EXAMPLE_PLAN, write_demo_roster, write_demo_targets
from deploy.local.processes import callfloor_command
from schemas.kpis import business_day
from schemas.settings import Settings
from schemas.snapshots import RepSnapshot, decode
from simulator import SimulationSpec, roster
from simulator.model import daytime_zone
from streams.kafka_config import kafka_python_config
from streams.topics import ensure_topics
from tests.support.browser import Chromium
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from wallboard.feed import FETCH_WAIT_MS

History = dict[str, list[tuple[float, int]]]


class Screens(threading.Thread):
    """``count`` SSE clients on one event loop; per screen, per rep: (arrival time, dials)."""

    def __init__(self, url: str, count: int) -> None:
        super().__init__(name="screens", daemon=True)
        self.url, self.count = url, count
        self.seen: list[History] = [defaultdict(list) for _ in range(count)]
        self.events = 0
        self.connected = threading.Event()
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._quit: asyncio.Event | None = None
        self._last_line, self._last_dials = b"", {}

    def run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc

    async def _main(self) -> None:
        self._quit = asyncio.Event()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            tasks = [asyncio.create_task(self._screen(session, i)) for i in range(self.count)]
            await self._quit.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _screen(self, session: aiohttp.ClientSession, index: int) -> None:
        seen = self.seen[index]
        async with session.get(self.url) as response:
            if index == self.count - 1:
                self.connected.set()
            async for line in response.content:
                if not line.startswith(b"data: "):
                    continue
                arrived = time.time()
                self.events += 1
                for rep, dials in self._dials(line).items():
                    _note_change(seen[rep], arrived, dials)

    def _dials(self, line: bytes) -> dict[str, int]:
        """Per rep, the dials an event shows; every screen receives the same bytes, so each
        distinct event is parsed once (the screens share the cores with what they measure)."""
        if line != self._last_line:
            reps = orjson.loads(line[6:])["reps"]
            self._last_line, self._last_dials = line, {r["rep"]: r["cells"]["dials"]["value"] for r in reps}
        return self._last_dials

    def finish(self) -> None:
        if self._quit is not None:
            self._loop.call_soon_threadsafe(self._quit.set)
        self.join(timeout=30)
        if self.error:
            raise RuntimeError("screens failed") from self.error

    def lowest_total(self) -> int:
        """Dials today on the screen that is furthest behind."""
        return min(sum(h[-1][1] for h in seen.values() if h) for seen in self.seen)


# Injected into a Chromium screen: after every change to the rep rows' DOM, note (time, rep,
# dials shown) for each rep whose dials changed; the benchmark takes the notes every 0.2 s.
WATCH_THE_PAGE = """
(() => {
  const box = document.getElementById("reps"), last = {};
  window.__seen = [];
  window.__take = () => window.__seen.splice(0);
  const look = () => {
    const at = (performance.timeOrigin + performance.now()) / 1000;
    for (const row of box.querySelectorAll(".rep[data-rep]")) {
      const num = row.querySelector('.cell[data-metric="dials"] .num');
      const dials = Number(num.textContent.replace(/[^0-9]/g, ""));
      if (last[row.dataset.rep] !== dials) {
        last[row.dataset.rep] = dials;
        window.__seen.push([at, row.dataset.rep, dials]);
      }
    }
  };
  look();
  new MutationObserver(look).observe(box, {childList: true, subtree: true, characterData: true});
  return true;
})()
"""


class BrowserScreen(Background):
    """A real screen: headless Chromium showing the page at 1920x1080; per rep, when the dials
    the page's DOM shows changed (the next frame paints them)."""

    def __init__(self, url: str) -> None:
        super().__init__("browser-screen")
        self.browser = Chromium()
        self.browser.open(url)
        wait_for(lambda: self.browser.evaluate("document.querySelectorAll('.rep[data-rep]').length") > 0,
                 60, "the page in Chromium to show reps")  # fmt: skip
        self.browser.evaluate(WATCH_THE_PAGE)
        self.seen: History = defaultdict(list)

    def step(self) -> None:
        for at, rep, dials in self.browser.evaluate("window.__take()"):
            _note_change(self.seen[rep], at, dials)
        self.stopping.wait(0.2)

    def total(self) -> int:
        return sum(history[-1][1] for history in list(self.seen.values()) if history)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.browser.close()


class SnapshotWatcher(Background):
    """Reads the snapshot topic: per rep, (published ts, dials) and (received here, dials)."""

    def __init__(self, settings: Settings, topic: str) -> None:
        super().__init__("snapshot-watcher")
        # the wallboard's own fetch wait: this reader sees the topic as the wallboard does
        self.consumer = KafkaConsumer(**kafka_python_config(settings), enable_auto_commit=False,
                                      fetch_max_wait_ms=FETCH_WAIT_MS)  # fmt: skip
        partitions = [TopicPartition(topic, p) for p in self.consumer.partitions_for_topic(topic) or ()]
        self.consumer.assign(partitions)
        self.consumer.seek_to_beginning(*partitions)
        self.published: History = defaultdict(list)
        self.received: History = defaultdict(list)

    def step(self) -> None:
        for records in self.consumer.poll(timeout_ms=FETCH_WAIT_MS).values():
            now = time.time()
            for record in records:
                message = decode(record.value)
                if isinstance(message, RepSnapshot):
                    dials = message.today["dials"]
                    _note_change(self.published[message.rep_id], message.ts, dials)
                    _note_change(self.received[message.rep_id], now, dials)

    def total(self) -> int:
        return sum(history[-1][1] for history in list(self.received.values()) if history)

    def finish(self) -> None:
        super().finish()
        self.consumer.close()


def _note_change(history: list[tuple[float, int]], at: float, dials: int) -> None:
    if not history or history[-1][1] != dials:
        history.append((at, dials))


def plan_for_every_team(text: str, spec: SimulationSpec) -> str:
    """The example plan with one region holding every simulated team (it has five; a roster of
    more reps would otherwise leave the rest off the board's ranking)."""
    start = text.index("\nregions:\n") + 1
    end = text.index("\n\n", start)
    teams = sorted({team for _, team in roster(spec)})
    return text[:start] + f"regions:\n  floor: [{', '.join(teams)}]" + text[end:]


def run(args: argparse.Namespace) -> None:
    zone = daytime_zone()  # today's numbers are compared: run where it is mid-afternoon
    spec = SimulationSpec(reps=args.reps, calls=0, live=True, rate=args.rate, seed=args.seed, timezone=zone)
    with Stack("wallboard", partitions=args.partitions) as stack:
        tiers: dict[str, object] = {}
        if args.tiers or args.awards:  # the demo's targets (a revenue target per rep), the example plan
            write_demo_targets(stack.dir / "targets.yaml", spec, args.rate)
            tiers = {"targets_file": stack.dir / "targets.yaml", "pay_plan_file": EXAMPLE_PLAN}
            note("with targets and commission tiers (deploy/payroll.example.yaml) on every rep row")
        if args.awards:  # and its awards ranked live, every simulated rep on the roster
            plan = stack.dir / "plan.yaml"
            plan.write_text(plan_for_every_team(EXAMPLE_PLAN.read_text(), spec))
            today = business_day(datetime.now(UTC), ZoneInfo(zone))
            write_demo_roster(stack.dir / "inputs", plan, spec, today)
            tiers |= {"pay_plan_file": plan, "payroll_inputs_dir": stack.dir / "inputs"}
            note(f"with the example plan's awards ranked live over {args.reps} reps on the roster")
        settings = stack.settings("wallboard", timezone=zone, wallboard_port=free_port(),
                                  **sink_overrides(args), **tiers)  # fmt: skip
        ensure_topics(settings)
        worker = stack.worker(settings)
        board = stack.start("wallboard", callfloor_command("wallboard"), settings)
        wait_for_port("127.0.0.1", settings.wallboard_port, 60, "the wallboard")
        waited = wait_assigned([worker], args.partitions)
        note(f"worker holds all {args.partitions} partitions after {waited:.1f}s")

        note(f"phase 1: {args.rate:g} CDR/s for {args.seconds:g}s, no screen connected")
        prepared = simulate(spec, args.seconds)
        cpu_before = board.cpu_seconds()
        quiet_started = time.monotonic()
        first = produce_paced(settings, settings.cdr_topic, prepared, spec.rate, args.linger_ms)
        cpu_idle = (board.cpu_seconds() - cpu_before) / (time.monotonic() - quiet_started)
        dials_first = sum(1 for s in first if s[2])

        board_url = f"http://127.0.0.1:{settings.wallboard_port}/"
        screens = Screens(f"{board_url}events", args.screens - args.browsers)
        browsers = [BrowserScreen(board_url) for _ in range(args.browsers)]
        watcher = MetricsWatcher(settings.web_port, args.scrape_every)
        topic = SnapshotWatcher(settings, settings.snapshot_topic)
        for background in (screens, *browsers, watcher, topic):
            background.start()
        try:
            if not screens.connected.wait(30):
                raise RuntimeError("the screens did not connect")
            _wait_shown(watcher, screens, browsers, dials_first, "phase 1 on /metrics and on every screen")
            # the topic is read from its beginning: its figures count only once it caught up
            wait_for(lambda: topic.total() >= dials_first, 120, "phase 1 read back from the snapshot topic",
                     progress=lambda: f"{topic.total():,} of {dials_first:,} dials")  # fmt: skip
            note(f"phase 2: {args.rate:g} CDR/s for {args.seconds:g}s, {args.screens} screens connected")
            prepared = simulate(dataclasses.replace(spec, seed=args.seed + 1), args.seconds)
            cpu_before = board.cpu_seconds()
            started = time.monotonic()
            sent = produce_paced(settings, settings.cdr_topic, prepared, spec.rate, args.linger_ms)
            produce_seconds = time.monotonic() - started
            cpu_screens = (board.cpu_seconds() - cpu_before) / produce_seconds
            dials_all = dials_first + sum(1 for s in sent if s[2])
            _wait_shown(watcher, screens, browsers, dials_all, "every call on /metrics and on every screen")
        finally:
            for background in (topic, watcher, *browsers, screens):
                background.finish()
        worker.check_alive()
        board.check_alive()

        after = sent[0][3] + args.warmup
        browser_latencies = [lat for b in browsers for lat in _latencies(sent, b.seen, after)]
        screen_latencies = [lat for seen in screens.seen for lat in _latencies(sent, seen, after)]
        screen_latencies += browser_latencies
        cond = conditions(rate=args.rate, achieved_rate=round(len(sent) / produce_seconds, 1),
                          seconds=args.seconds, warmup_s=args.warmup, reps=args.reps, screens=args.screens,
                          linger_ms=args.linger_ms,
                          of_which_chromium=args.browsers, tiers=args.tiers or args.awards,
                          awards=args.awards,
                          partitions=args.partitions, scrape_every_s=args.scrape_every,
                          snapshot_interval_s=settings.snapshot_interval_seconds,
                          flush_seconds=settings.sink_flush_seconds,
                          sse_events=screens.events)  # fmt: skip
        emit("wallboard", "produce -> number on a connected screen (every screen: SSE clients and Chromium)",
             **percentiles(screen_latencies), **cond)  # fmt: skip
        emit("wallboard", "of which: produce -> number in the page's DOM in headless Chromium",
             **percentiles(browser_latencies), **cond)  # fmt: skip
        emit("wallboard", "baseline: produce -> /metrics (rep dials), same run",
             **percentiles(_latencies(sent, watcher.seen, after)), **cond)  # fmt: skip
        emit("wallboard", "where: produce -> snapshot published by the worker (its ts)",
             **percentiles(_latencies(sent, topic.published, after)), **cond)  # fmt: skip
        emit("wallboard", "where: produce -> snapshot read from the topic",
             **percentiles(_latencies(sent, topic.received, after)), **cond)  # fmt: skip
        per_screen = (cpu_screens - cpu_idle) / max(1, args.screens)
        emit("wallboard", "wallboard CPU per connected screen",
             cpu_per_screen_percent=round(100 * per_screen, 3),
             cpu_with_screens_percent=round(100 * cpu_screens, 2),
             baseline_cpu_no_screen_percent=round(100 * cpu_idle, 2), **cond)  # fmt: skip


def _wait_shown(
    watcher: MetricsWatcher, screens: Screens, browsers: list[BrowserScreen], dials: int, what: str
) -> None:
    def slowest() -> int:
        return min([screens.lowest_total(), *(browser.total() for browser in browsers)])

    def progress() -> str:
        return f"/metrics {watcher.total():,}, slowest screen {slowest():,} of {dials:,} dials"

    wait_for(lambda: watcher.total() >= dials and slowest() >= dials, 120, what, progress=progress)


def _latencies(sent: list[tuple], seen: History, after: float) -> list[float]:
    """As metrics_latencies, counting from the dials each rep already had before ``sent``."""
    shifted: History = {}
    for rep, history in seen.items():
        base = next((d for t, d in reversed(history) if t < sent[0][3]), 0)
        shifted[rep] = [(t, d - base) for t, d in history if t >= sent[0][3]]
    return metrics_latencies(sent, shifted, after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_latency_arguments(parser, "how long each phase produces")
    parser.add_argument("--screens", type=int, default=20, help="connected screens")
    parser.add_argument("--tiers", action="store_true",
                        help="every rep with a revenue target and the example pay plan: every row shows "
                             "its commission tier")  # fmt: skip
    parser.add_argument("--awards", action="store_true",
                        help="as --tiers, plus a roster of every rep: the awards panel ranks the example "
                             "plan's awards live")  # fmt: skip
    parser.add_argument("--browsers", type=int, default=1,
                        help="screens that are Chromium pages (the rest: SSE clients)")  # fmt: skip
    args = parser.parse_args()
    if not 0 <= args.browsers < args.screens:
        parser.error("--browsers must be at least 0 and fewer than --screens (one SSE client at least)")
    main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
