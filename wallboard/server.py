"""The wallboard's HTTP server: one page, its script and style, and a server-sent-event stream.

Only requests whose ``Host`` names the bound address are served (a web page re-pointing its
own name at the wallboard, DNS rebinding, cannot read the floor). A screen opens
``/events?team=..&campaign=..`` and receives the whole view it shows as
one JSON event: at once, then whenever the floor changes (at most every
``MIN_PUSH_SECONDS``) and at least every ``MAX_PUSH_SECONDS`` so the freshness age
keeps counting. A view is built once per distinct filter and shared by every screen
with it; a slow screen skips to the newest view instead of queueing old ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from payroll.plan import PayPlanError
from schemas.kpis import business_day
from schemas.served_hosts import host_names_this_server, http_url, served_host_names
from schemas.settings import Settings
from schemas.targets import TargetsError, TargetSet
from streams.targets_watch import TargetsWatcher
from wallboard.alerts import AlertsPoller
from wallboard.awards import AwardBoard
from wallboard.feed import SnapshotFeed
from wallboard.floor import Floor
from wallboard.guard import SECURITY_HEADERS, GuardedRunner
from wallboard.pace import Shift
from wallboard.tiers import PlanWatcher
from wallboard.view import Filters, build_view

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
MIN_PUSH_SECONDS = 0.1
MAX_PUSH_SECONDS = 1.0
PAGES = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript"),
         "/app.css": ("app.css", "text/css")}  # fmt: skip


class Screen:
    """One connected browser: holds only the newest view not yet sent."""

    def __init__(self) -> None:
        self.latest = b""
        self.ready = asyncio.Event()

    def offer(self, payload: bytes) -> None:
        self.latest = payload
        self.ready.set()


class Wallboard:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.floor = Floor(settings.wallboard_stale_seconds)
        self.feed = SnapshotFeed(settings, self.floor)
        self.alerts = AlertsPoller(settings.alerts_url)
        self.targets = TargetsWatcher(settings.targets_file, on_error=self._targets_refused)
        self.targets.load_initial()  # a bad file stops the wallboard, naming the line
        self.plan = PlanWatcher(settings.pay_plan_file)  # a bad plan stops the wallboard, naming the line
        self.awards = AwardBoard(settings.payroll_inputs_dir, self.plan.plan)  # so does a bad roster
        self.shift = Shift(settings.shift_start, settings.shift_end, settings.breaks)
        self.screens: dict[Filters, set[Screen]] = {}

    @staticmethod
    def _targets_refused(error: TargetsError) -> None:
        log.error("targets file refused, previous targets stay in force: %s", error)

    def targets_today(self, now: float) -> TargetSet | None:
        return self.targets.in_force(business_day(datetime.fromtimestamp(now, UTC), self.settings.zone))

    def view(self, filters: Filters, now: float) -> bytes:
        alerts = self.alerts.alerts
        body = build_view(self.floor, self.targets_today(now), self.shift, self.settings.zone, now,
                          filters, alerts, regime_of=self.settings.abandon_regime_of,
                          plan=self.plan.plan)  # fmt: skip
        today = business_day(datetime.fromtimestamp(now, UTC), self.settings.zone)
        body["awards"] = self.awards.panel(self.floor, self.plan.plan, today, filters.team, now)
        body["currency"] = self.settings.currency
        body["alerts_connected"] = self.alerts.connected
        body["alerts_available"] = self.alerts.available
        return orjson.dumps(body)

    async def broadcast(self) -> None:
        last_push = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.feed.changed.wait(), MAX_PUSH_SECONDS)
            self.feed.changed.clear()
            now = time.time()
            for filters, screens in list(self.screens.items()):
                if screens:
                    payload = self.view(filters, now)
                    for screen in screens:
                        screen.offer(payload)
            last_push = now
            await asyncio.sleep(max(0.0, MIN_PUSH_SECONDS - (time.time() - last_push)))

    async def reload_targets(self) -> None:
        while True:
            await asyncio.sleep(self.settings.targets_reload_seconds)
            if self.targets.check():
                log.info("targets reloaded from %s", self.settings.targets_file)
            if self.plan.check():
                log.info("pay plan reloaded from %s", self.settings.pay_plan_file)
            if self.awards.roster.check(self.plan.plan):
                log.info("roster for the awards panel: %s", self.awards.roster.missing or "reloaded")

    async def events(self, request: web.Request) -> web.StreamResponse:
        filters = _filters(request)
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache", **SECURITY_HEADERS,
        })  # fmt: skip
        await response.prepare(request)
        screen = Screen()
        self.screens.setdefault(filters, set()).add(screen)
        screen.offer(self.view(filters, time.time()))
        try:
            while True:
                await screen.ready.wait()
                screen.ready.clear()
                await response.write(b"data: " + screen.latest + b"\n\n")
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            # A filter nobody watches is forgotten: what the board keeps is bounded by the
            # screens open (at most wallboard_max_connections), never by filters ever asked for.
            watching = self.screens.get(filters)
            if watching is not None:
                watching.discard(screen)
                if not watching:
                    del self.screens[filters]
        return response

    async def floor_json(self, request: web.Request) -> web.Response:
        body = self.view(_filters(request), time.time())
        return web.Response(body=body, content_type="application/json")

    @web.middleware
    async def only_this_host(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        port = request.transport.get_extra_info("sockname")[1] if request.transport else 0
        allowed = served_host_names(self.settings.wallboard_host, port)
        if not host_names_this_server(request.headers.get("Host", ""), allowed):
            return web.Response(status=403, text="the Host header does not name this wallboard\n")
        return await handler(request)

    async def favicon(self, _request: web.Request) -> web.Response:
        """No icon, said once a day, so a browser's automatic request is not a 404 every load."""
        return web.Response(status=204, headers={"Cache-Control": "max-age=86400"})

    async def page(self, request: web.Request) -> web.Response:
        name, content_type = PAGES[request.path]
        headers = {"Cache-Control": "no-cache"}
        body = (STATIC / name).read_bytes()
        return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)

    async def _background(self, _app: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(coro) for coro in
                 (self.feed.run(), self.broadcast(), self.alerts.run(), self.reload_targets())]  # fmt: skip
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self.only_this_host])
        for path in PAGES:
            app.router.add_get(path, self.page)
        app.router.add_get("/favicon.ico", self.favicon)
        app.router.add_get("/events", self.events)
        app.router.add_get("/api/floor", self.floor_json)
        app.cleanup_ctx.append(self._background)
        return app


def _filters(request: web.Request) -> Filters:
    try:
        return Filters.from_query(request.query)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None


async def serve(board: Wallboard, host: str, port: int, url: str) -> None:
    """Serve until SIGINT/SIGTERM, through the guarded runner (headers on every answer,
    a connection limit); ``web.run_app`` cannot take a runner of one's own."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    runner = GuardedRunner(board.application(), board.settings.wallboard_max_connections,
                           shutdown_timeout=1.0)  # fmt: skip
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        print(f"wallboard on {url}", flush=True)
        await stopping.wait()
    finally:
        await runner.cleanup()


def run_wallboard(settings: Settings, port: int | None = None) -> int:
    """Serve until interrupted; prints the URL a screen opens."""
    try:
        board = Wallboard(settings)
    except (TargetsError, PayPlanError) as exc:
        print(f"callfloor wallboard: {exc}")
        return 2
    bind_port = port or settings.wallboard_port
    url = http_url(settings.wallboard_host, bind_port)
    asyncio.run(serve(board, settings.wallboard_host, bind_port, url))
    return 0
