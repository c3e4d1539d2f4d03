"""The demo's ops loop as its user sees it, with Debian's real Prometheus and Alertmanager: the
Prometheus page the demo prints opens, and the terminal says an alert fired once and resolved
once, however often its summary's figure changes while it fires (Prometheus re-sends a firing
alert with its annotations evaluated afresh: "camp-01 abandoned 4.455 %", then "7.101 %")."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from deploy.local.ops import OpsLoop, binaries
from schemas.settings import Settings
from tests.support.ports import free_ports

pytestmark = pytest.mark.integration

ABANDONS = {"alertname": "CampaignAbandonRateHigh", "severity": "page", "campaign": "camp-01"}


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[OpsLoop]:
    assert all(binaries()), "Debian's prometheus and prometheus-alertmanager are required (make system-deps)"
    web, prometheus, alertmanager = free_ports(3)
    settings = Settings(web_port=web, demo_prometheus_port=prometheus, demo_alertmanager_port=alertmanager)
    loop = OpsLoop(settings, tmp_path, tmp_path / "logs")
    loop.start()
    try:
        yield loop
    finally:
        loop.stop()


def post(alertmanager: str, summary: str, ends: timedelta) -> None:
    """The abandon alert, as Prometheus posts it (``ends`` in the past: resolved)."""
    now = datetime.now(UTC)
    alert = {
        "labels": ABANDONS, "annotations": {"summary": summary},
        "startsAt": (now - timedelta(minutes=5)).isoformat(), "endsAt": (now + ends).isoformat(),
    }  # fmt: skip
    request = urllib.request.Request(f"{alertmanager}/api/v2/alerts", data=orjson.dumps([alert]),
                                     method="POST", headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_the_printed_prometheus_page_opens(ops: OpsLoop) -> None:
    page = ops.alerts_page()
    assert page.startswith(ops.prometheus_url + "/") and page.endswith("alerts"), page
    with urllib.request.urlopen(page, timeout=10) as response:  # an HTTP error raises
        assert response.status == 200
        assert b"<html" in response.read().lower()


def test_a_firing_alert_whose_figure_changes_is_printed_once_and_resolved_once(ops: OpsLoop) -> None:
    assert ops.changes() == []
    post(ops.alertmanager_url, "camp-01 abandoned 4.455%", timedelta(hours=1))
    assert ops.changes() == ["ALERT firing   [page] CampaignAbandonRateHigh: camp-01 abandoned 4.455%"]
    post(ops.alertmanager_url, "camp-01 abandoned 7.101%", timedelta(hours=1))
    assert ops.changes() == []  # still the same alert, firing: nothing to say
    post(ops.alertmanager_url, "camp-01 abandoned 2.9%", timedelta(seconds=-1))
    assert ops.changes() == ["ALERT resolved CampaignAbandonRateHigh: camp-01 abandoned 7.101%"]
