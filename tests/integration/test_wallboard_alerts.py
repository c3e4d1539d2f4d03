"""The wallboard's alert panel against a real Alertmanager (Debian's prometheus-alertmanager):
a firing alert is listed, as text; an Alertmanager that does not answer shows "unavailable",
never "no alerts"."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.request import Request, urlopen

import orjson
import pytest

from deploy.local.broker import wait_for_port
from deploy.local.processes import spawn, stop
from schemas.settings import Settings
from streams.topics import ensure_topics
from tests.integration.wallboard_page import running_wallboard
from tests.support.ports import free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
CONFIG = "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n"


@pytest.fixture
def alertmanager(tmp_path: Path, logs_dir: Path) -> Iterator[str]:
    binary = shutil.which("prometheus-alertmanager")
    assert binary, "prometheus-alertmanager missing: apt-get install prometheus-alertmanager"
    (tmp_path / "am.yml").write_text(CONFIG)
    port = free_port()
    argv = [binary, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]  # fmt: skip
    process: subprocess.Popen[bytes] = spawn(argv, {}, logs_dir / "alertmanager.log")
    try:
        wait_for_port("127.0.0.1", port, 30, "alertmanager")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def _floor(settings: Settings) -> dict:
    with urlopen(f"http://127.0.0.1:{settings.wallboard_port}/api/floor", timeout=10) as response:
        return orjson.loads(response.read())


def test_firing_alerts_are_listed_and_an_absent_alertmanager_says_so(
    settings: Settings, logs_dir: Path, alertmanager: str
) -> None:
    now = datetime.now(UTC)
    alert = {
        "labels": {"alertname": "TeamBehindPace", "severity": "warning", "team": "team-01"},
        "annotations": {"summary": "<b>team-01</b> is at 61 % of its dial pace"},
        "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat(),
    }  # fmt: skip
    request = Request(f"{alertmanager}/api/v2/alerts", data=orjson.dumps([alert]), method="POST",
                      headers={"Content-Type": "application/json"})  # fmt: skip
    with urlopen(request, timeout=10) as response:
        assert response.status == 200
    board = settings.model_copy(update={
        "snapshot_topic": f"{settings.cdr_topic}.snapshots", "wallboard_port": free_port(),
        "alerts_url": alertmanager,
    })  # fmt: skip
    ensure_topics(board)
    with running_wallboard(board, logs_dir / "wallboard-alerts.log"):
        view = wait_for(lambda: _floor(board)["alerts"] and _floor(board), 30, "the alert on the wallboard")
        assert view["alerts_available"] and view["alerts_connected"]
        assert view["alerts"] == [{"name": "TeamBehindPace", "severity": "warning", "team": "team-01",
                                   "summary": "<b>team-01</b> is at 61 % of its dial pace"}]  # fmt: skip
        team_view = orjson.loads(
            urlopen(f"http://127.0.0.1:{board.wallboard_port}/api/floor?team=team-02", timeout=10).read()
        )
        assert team_view["alerts"] == [], "another team's alert on a team's screen"

    gone = board.model_copy(
        update={"alerts_url": f"http://127.0.0.1:{free_port()}", "wallboard_port": free_port()}
    )
    with running_wallboard(gone, logs_dir / "wallboard-alerts-gone.log"):
        log = logs_dir / "wallboard-alerts-gone.log"
        wait_for(
            lambda: "reading alerts from" in log.read_text(), 30, "a failed poll of the absent Alertmanager"
        )
        assert _floor(gone)["alerts_available"] is False and _floor(gone)["alerts_connected"]
