"""Running ``callfloor wallboard`` and reading what its page shows, for the wallboard tests."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.request import Request, urlopen

import orjson

from deploy.local.broker import wait_for_port
from deploy.local.processes import callfloor_command, spawn, stop
from schemas.settings import Settings
from tests.support.browser import Chromium

# Every rep row the page drew: rep id, team and the number of each cell, as the text shows them.
READ_REPS = """
[...document.querySelectorAll('#reps .rep[data-rep]')].map(row => ({
  rep: row.dataset.rep,
  name: row.querySelector('.who').firstChild.textContent,
  team: row.querySelector('.who small').textContent,
  cells: Object.fromEntries([...row.querySelectorAll('.cell')].map(
    c => [c.dataset.metric, c.querySelector('.num').textContent])),
}))
"""
READ_TEAMS = """
[...document.querySelectorAll('#teams tbody tr')].map(tr => [...tr.children].map(td => td.textContent))
"""
# Every rep row is inside the window: nothing needs scrolling (the page itself never scrolls).
ALL_ROWS_VISIBLE = """
[...document.querySelectorAll('#reps .rep[data-rep]')].every(
  row => row.getBoundingClientRect().bottom <= window.innerHeight + 0.5)
"""
READ_ALERTS = "[...document.querySelectorAll('#alerts li')].map(li => li.textContent)"
# Each alert group the panel lists: name, how many fire, the subjects it names (rep, campaign, ...)
READ_ALERT_GROUPS = """
[...document.querySelectorAll('#alerts li[data-name]')].map(li => [li.dataset.name, Number(li.dataset.count),
  li.dataset.subjects ? li.dataset.subjects.split(',') : []])
"""
# campaign -> [rate as shown, over its line] for every campaign row the page drew
READ_CAMPAIGNS = """
Object.fromEntries([...document.querySelectorAll('[data-campaign]')].map(r => [r.dataset.campaign,
  [r.querySelector('.rate').textContent, r.classList.contains('over')]]))
"""
# The panels a TV must always show: id -> its box, and whether the box lies inside the window
# (the page never scrolls; a panel pushed below the window's bottom is not on the screen).
PANELS_ON_SCREEN = """
Object.fromEntries(['campaigns', 'alerts', 'awards'].map(id => {
  const box = document.getElementById(id).getBoundingClientRect();
  const inside = box.height > 0 && box.top >= 0 && box.left >= 0
    && box.bottom <= window.innerHeight + 0.5 && box.right <= window.innerWidth + 0.5;
  return [id, {inside, top: box.top, bottom: box.bottom, window: [window.innerWidth, window.innerHeight]}];
}))
"""
# rep -> the commission tier hint under its name: exact figures (data-*) and the text shown
READ_TIERS = """
[...document.querySelectorAll('#reps .rep[data-rep]')].map(row => {
  const tier = row.querySelector('.who small.tier');
  return [row.dataset.rep, tier.dataset.rate, tier.dataset.toNext, tier.textContent];
})
"""
# The awards panel's places this month (not the month just ended, shown on a month's first day):
# award id, group, rep, rank, figure and prize (exact, as the view sends them)
READ_AWARDS = """
[...document.querySelectorAll('#awards > .award .place[data-rep]')].map(p => [
  p.dataset.award, p.dataset.group, p.dataset.rep, p.dataset.rank, p.dataset.value, p.dataset.amount])
"""
READ_AWARD_NAMES = "[...document.querySelectorAll('#awards .award-name')].map(n => n.firstChild.textContent)"
READ_BANNER = "(b => b.hidden ? null : b.textContent)(document.getElementById('stale'))"


COUNTED = ("dials", "connects", "valid_connects", "talk_seconds", "sales")


@contextmanager
def running_wallboard(settings: Settings, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = spawn(callfloor_command("wallboard"), settings.to_env(), log_path)
    try:
        wait_for_port("127.0.0.1", settings.wallboard_port, 60, "the wallboard")
        yield process
    finally:
        stop(process)


def assert_panels_on_screen(browser: Chromium) -> None:
    """The abandon, alerts and awards panels lie inside a 1920x1080 window (a TV's)."""
    panels = browser.evaluate(PANELS_ON_SCREEN)
    assert all(panel["inside"] for panel in panels.values()), f"a panel off the 1920x1080 screen: {panels}"
    assert all(panel["window"] == [1920, 1080] for panel in panels.values()), panels


def number(text: str) -> int:
    return int(text.replace(",", "").strip())


def page_reps(browser: Chromium) -> list[dict]:
    return browser.evaluate(READ_REPS) or []


def shown_by_rep(rows: list[dict]) -> dict[str, dict[str, int]]:
    """rep -> {dials, connects, valid_connects, talk_minutes, sales} as numbers."""
    return {row["rep"]: {k: number(v) for k, v in row["cells"].items()} for row in rows}


def expected_by_rep(rows: list[dict]) -> dict[str, dict[str, int]]:
    """What the page must show for each report row (talk in whole minutes; sales month to date,
    equal to today's when the month has no other day of traffic)."""
    return {
        r["rep_id"]: {"dials": r["dials"], "connects": r["connects"], "valid_connects": r["valid_connects"],
                      "talk_minutes": r["talk_seconds"] // 60, "sales": r["sales"]}
        for r in rows
    }  # fmt: skip


def summed(*row_lists: list[dict]) -> list[dict]:
    """Report-shaped rows added up per rep (the counters the page shows)."""
    totals: dict[str, dict] = {}
    for rows in row_lists:
        for row in rows:
            total = totals.setdefault(row["rep_id"], {"rep_id": row["rep_id"], **dict.fromkeys(COUNTED, 0)})
            for name in COUNTED:
                total[name] += row[name]
    return list(totals.values())


def summed_revenue(*row_lists: list[dict]) -> list[dict]:
    """Report-shaped rows with each rep's revenue added up (Decimal, as text like the report's)."""
    totals: dict[str, Decimal] = {}
    for rows in row_lists:
        for row in rows:
            totals[row["rep_id"]] = totals.get(row["rep_id"], Decimal(0)) + Decimal(row["revenue"])
    return [{"rep_id": rep, "revenue": str(total)} for rep, total in totals.items()]


def post_alert(alertmanager: str, name: str, severity: str, summary: str, *, resolved: bool = False,
               **labels: str) -> None:
    """An alert firing for the next hour, posted as Prometheus posts it; ``resolved``: the same
    alert (its labels) ended a second ago, as Prometheus resolves one."""
    now = datetime.now(UTC)
    ends = now - timedelta(seconds=1) if resolved else now + timedelta(hours=1)
    alert = {
        "labels": {"alertname": name, "severity": severity, **labels}, "annotations": {"summary": summary},
        "startsAt": (now - timedelta(minutes=1)).isoformat(), "endsAt": ends.isoformat(),
    }  # fmt: skip
    request = Request(f"{alertmanager}/api/v2/alerts", data=orjson.dumps([alert]), method="POST",
                      headers={"Content-Type": "application/json"})  # fmt: skip
    with urlopen(request, timeout=10) as response:
        assert response.status == 200
