"""Firing alerts, from Alertmanager (``/api/v2/alerts``) or Prometheus (``/api/v1/alerts``).

The board shows them grouped by alert name (:func:`grouped`): a floor where twelve reps dial
slowly fires twelve ``RepDialRateLow``, which listed one a line would push the awards panel
off a TV's screen.

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
# Pages first: what someone must act on now is never below what can wait for the shift.
SEVERITY_ORDER = {"critical": 0, "page": 0, "warning": 1}
# The label that tells one alert of a name from another, first present wins (rules.yml's labels).
SUBJECT_LABELS = ("rep", "campaign", "team", "instance")
SUBJECTS_SHOWN = 3  # "RepDialRateLow ×12 · rep-003, rep-007, rep-011 +9"


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
        "subject": next((str(labels[k]) for k in SUBJECT_LABELS if labels.get(k)), ""),
        "summary": str(notes.get("summary") or notes.get("description") or ""),
    }


def severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.get(severity, len(SEVERITY_ORDER))


def grouped(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per alert name (and severity), most severe first, then the most alerts: its
    ``count``, the first :data:`SUBJECTS_SHOWN` ``subjects`` (sorted) and how many ``more``; the
    ``summary`` only when the group is a single alert (a dozen summaries do not fit a TV)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for alert in alerts:
        groups.setdefault((alert["name"], alert["severity"]), []).append(alert)
    out = []
    for (name, severity), members in groups.items():
        subjects = sorted({a["subject"] for a in members if a["subject"]})
        out.append({
            "name": name, "severity": severity, "count": len(members),
            "subjects": subjects[:SUBJECTS_SHOWN], "more": max(0, len(subjects) - SUBJECTS_SHOWN),
            "summary": members[0]["summary"] if len(members) == 1 else "",
        })  # fmt: skip
    return sorted(out, key=lambda g: (severity_rank(g["severity"]), -g["count"], g["name"]))


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
                    self.alerts = await self._fetch(session)  # grouped and ordered per view
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
