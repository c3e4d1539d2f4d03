"""Firing alerts, from Alertmanager (``/api/v2/alerts``) or Prometheus (``/api/v1/alerts``).

Optional: without ``CALLFLOOR_ALERTS_URL`` the panel says "alerts not connected" (the board
has no way to know, so it never claims "no alerts firing"). A URL that does not answer
keeps the last list and marks it unavailable, for the same reason.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0


def parse_alertmanager(body: Any) -> list[dict[str, Any]]:
    """Alertmanager v2: a list of alerts; silenced or inhibited ones are not shown."""
    return [_alert(a) for a in body if a.get("status", {}).get("state", "active") == "active"]


def parse_prometheus(body: Any) -> list[dict[str, Any]]:
    """Prometheus v1: ``data.alerts``, of which only the firing ones (not pending)."""
    return [_alert(a) for a in body.get("data", {}).get("alerts", []) if a.get("state") == "firing"]


def _alert(raw: dict[str, Any]) -> dict[str, Any]:
    labels, notes = raw.get("labels", {}), raw.get("annotations", {})
    return {
        "name": str(labels.get("alertname", "alert")),
        "severity": str(labels.get("severity", "")),
        "team": labels.get("team"),
        "summary": str(notes.get("summary") or notes.get("description") or ""),
    }


class AlertsPoller:
    def __init__(self, url: str | None) -> None:
        self.url = url.rstrip("/") if url else None
        self.alerts: list[dict[str, Any]] = []
        self.connected = url is not None  # an alert source is configured
        self.available = False  # the last poll of it answered

    async def run(self) -> None:
        if self.url is None:
            return
        timeout = aiohttp.ClientTimeout(total=POLL_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                try:
                    self.alerts = sorted(await self._fetch(session), key=lambda a: (a["severity"], a["name"]))
                    self.available = True
                except Exception as exc:  # noqa: BLE001 - shown as "alerts unavailable", retried
                    self.available = False
                    log.warning("reading alerts from %s failed: %s", self.url, exc)
                await asyncio.sleep(POLL_SECONDS)

    async def _fetch(self, session: aiohttp.ClientSession) -> list[dict[str, Any]]:
        async with session.get(f"{self.url}/api/v2/alerts", params={"active": "true"}) as response:
            if response.status == 200:
                return parse_alertmanager(await response.json())
        async with session.get(f"{self.url}/api/v1/alerts") as response:
            response.raise_for_status()
            return parse_prometheus(await response.json())
