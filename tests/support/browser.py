"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol, for page tests.

A plain synchronous wrapper: each call runs the protocol exchange on a private event
loop, so tests can interleave browser checks with producing CDRs. Only what the tests
need: open a URL at a given window size, evaluate JavaScript, take a PNG screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import aiohttp

from tests.support.ports import free_port


class Chromium:
    def __init__(self, width: int = 1920, height: int = 1080) -> None:
        binary = shutil.which("chromium")
        if binary is None:
            raise RuntimeError("Debian's chromium is not installed (apt-get install chromium)")
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="callfloor-chromium-")
        self.process = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-extensions", "--no-first-run", "--hide-scrollbars", "--mute-audio",
             # a TV shows the page in front: never throttle it as a background tab (as Puppeteer)
             "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
             "--disable-backgrounding-occluded-windows",
             f"--user-data-dir={self.profile}", f"--remote-debugging-port={self.port}",
             "--remote-allow-origins=*", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.width, self.height = width, height
        self.loop = asyncio.new_event_loop()
        self._ids = itertools.count(1)
        self.session: aiohttp.ClientSession | None = None
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.loop.run_until_complete(self._connect(self._page_socket_url()))

    def _page_socket_url(self, timeout_s: float = 30.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=2) as response:
                    pages = [t for t in json.load(response) if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("chromium did not open its DevTools port")

    async def _connect(self, url: str) -> None:
        self.session = aiohttp.ClientSession()
        self.socket = await self.session.ws_connect(url, max_msg_size=0)

    async def _send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        assert self.socket is not None
        call_id = next(self._ids)
        await self.socket.send_json({"id": call_id, "method": method, "params": params or {}})
        while True:
            message = json.loads((await self.socket.receive(timeout=60)).data)
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.loop.run_until_complete(self._send(method, params))

    def open(self, url: str) -> None:
        metrics = {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", metrics)
        self.call("Page.enable")
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page (exceptions raise here)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page raised: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, clip: dict[str, float] | None = None) -> Path:
        """A PNG of the window, or of ``clip`` (``x``, ``y``, ``width``, ``height`` in CSS pixels of
        the page, beyond the window too)."""
        params: dict[str, Any] = {"format": "png"}
        if clip is not None:
            params |= {"clip": {**clip, "scale": 1}, "captureBeyondViewport": True}
        data = self.call("Page.captureScreenshot", params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        async def _close() -> None:
            if self.socket is not None:
                await self.socket.close()
            if self.session is not None:
                await self.session.close()

        try:
            self.loop.run_until_complete(_close())
        finally:
            self.loop.close()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            shutil.rmtree(self.profile, ignore_errors=True)
