"""The wallboard's alert panel against a real Alertmanager (Debian's prometheus-alertmanager):
a firing alert is listed, as text; an Alertmanager that does not answer shows "unavailable",
never "no alerts"."""

from __future__ import annotations

from pathlib import Path
from urllib.request import urlopen

import orjson
import pytest

from schemas.settings import Settings
from streams.topics import ensure_topics
from tests.integration.wallboard_page import post_alert, running_wallboard
from tests.support.ports import free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def _floor(settings: Settings) -> dict:
    with urlopen(f"http://127.0.0.1:{settings.wallboard_port}/api/floor", timeout=10) as response:
        return orjson.loads(response.read())


def test_firing_alerts_are_listed_and_an_absent_alertmanager_says_so(
    settings: Settings, logs_dir: Path, alertmanager: str
) -> None:
    post_alert(alertmanager, "TeamBehindPace", "warning", "<b>team-01</b> is at 61 % of its dial pace",
               team="team-01")  # fmt: skip
    board = settings.model_copy(update={
        "snapshot_topic": f"{settings.cdr_topic}.snapshots", "wallboard_port": free_port(),
        "alerts_url": alertmanager,
    })  # fmt: skip
    ensure_topics(board)
    with running_wallboard(board, logs_dir / "wallboard-alerts.log"):
        view = wait_for(lambda: _floor(board)["alerts"] and _floor(board), 30, "the alert on the wallboard")
        assert view["alerts_available"] and view["alerts_connected"]
        assert view["alerts"] == [{"name": "TeamBehindPace", "severity": "warning", "count": 1,
                                   "subjects": ["team-01"], "more": 0,
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
