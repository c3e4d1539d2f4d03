"""The page can carry no injected markup and loads nothing from outside the wallboard.

The browser half (a rep named ``<script>`` is drawn as text) is in
tests/integration/test_wallboard_page.py; here: the script has no HTML sink at all, the
files reference no other origin, the view passes names through as data, and every
response carries the content security policy.
"""

from __future__ import annotations

import re
from datetime import time

import pytest

from schemas.settings import Settings, SettingsError, load_settings
from schemas.snapshots import RepSnapshot
from wallboard.floor import Floor
from wallboard.guard import CONTENT_SECURITY_POLICY
from wallboard.pace import Shift
from wallboard.server import STATIC
from wallboard.view import Filters, build_view

HOSTILE = "<script>window.pwned=1</script>"


def test_script_never_parses_strings_as_html_or_code() -> None:
    script = (STATIC / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function(",
                 "setAttribute(\"style", "srcdoc"):  # fmt: skip
        assert sink not in script, sink
    assert "textContent" in script


@pytest.mark.parametrize("name", ["index.html", "app.js", "app.css"])
def test_nothing_is_loaded_from_another_origin(name: str) -> None:
    text = (STATIC / name).read_text()
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), "an external URL"
    assert "@import" not in text and "@font-face" not in text and "url(" not in text


def test_policy_allows_only_this_origin_and_no_inline_code() -> None:
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY


def test_names_reach_the_page_as_data_unchanged() -> None:
    floor = Floor(10.0, started=0.0)
    floor.apply(
        RepSnapshot(HOSTILE, "<b>team</b>", "2026-12-01", {"dials": 1}, {"sales": 0}, 0, "w", 1, 1.0), 1.0
    )
    settings = Settings(timezone="UTC")
    view = build_view(floor, None, Shift(time(9), time(18)), settings.zone, 1796140800.0, Filters(), [])
    assert view["day"] == "2026-12-01"
    assert [(r["rep"], r["team"]) for r in view["reps"]] == [(HOSTILE, "<b>team</b>")]


def test_bad_break_setting_names_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SettingsError, match="CALLFLOOR_SHIFT_BREAKS"):
        load_settings(shift_breaks="12:00-11:00")
    assert Settings(shift_breaks="15:00-15:15, 12:00-13:00").breaks == (
        (time(12), time(13)),
        (time(15), time(15, 15)),
    )
