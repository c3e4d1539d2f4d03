"""The wallboard in a real browser against real workers fed by the simulator.

Headless Chromium loads the page from ``callfloor wallboard``; the numbers it shows must
equal ``callfloor report`` (ClickHouse, what payroll reads) and the workers' /metrics for
today. More CDRs move the page without a reload; a stopped pipeline raises the stale
banner; with two workers, one killed, every rep is shown exactly once throughout.
Screenshots (English and Chinese) are saved and their folder printed.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from urllib.request import urlopen

import orjson
import pytest
from kafka import KafkaProducer

from schemas.kpis import business_day
from schemas.settings import Settings
from schemas.snapshots import Heartbeat, RepSnapshot, decode, encode, key_of
from simulator import SimulationSpec, produce, roster
from streams.topics import ensure_topics
from tests.factories import cdr_dict
from tests.integration.wallboard_page import (
    ALL_ROWS_VISIBLE,
    READ_ALERT_GROUPS,
    READ_ALERTS,
    READ_AWARD_NAMES,
    READ_AWARDS,
    READ_BANNER,
    READ_CAMPAIGNS,
    READ_TEAMS,
    READ_TIERS,
    assert_panels_on_screen,
    expected_by_rep,
    number,
    page_reps,
    post_alert,
    running_wallboard,
    shown_by_rep,
    summed,
    summed_revenue,
)
from tests.support.browser import Chromium
from tests.support.cli import report
from tests.support.daytime import in_daytime_zone
from tests.support.kafka import lag, read_topic, send_all
from tests.support.ports import free_port
from tests.support.processes import Worker, running_worker
from tests.support.scrape import rep_actuals, rep_day_actuals, samples
from tests.support.waiting import wait_for
from wallboard.guard import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.integration
REPS = 30
SLOW_REPS = 12  # reps under the dial-rate floor at once: as the demo's floor fires


# The pay plan in force: commission tiers by revenue attainment (as deploy/payroll.example.yaml).
PLAN = """plan: floor-test
version: 1
roster: {file: roster.csv}
kpis: {revenue: {source: calls}}
roles: {rep: {base: "3000.00", performance: "1000.00", weights: {revenue: "1"}}}
commission:
  tiers:
    - {from: "0", rate: "0.015"}
    - {from: "0.8", rate: "0.02"}
    - {from: "1.0", rate: "0.025"}
    - {from: "1.2", rate: "0.03"}
awards:
  - {id: sales_champion, name: 月度销售冠军 Monthly sales champion, by: revenue, then_by: sales,
     within: floor, amounts: ["1000.00"], ties: split}
  - {id: team_top_three, name: 团队前三 Top three per team, by: revenue, within: team,
     amounts: ["600.00", "400.00", "200.00"]}
  - {id: best_new_hire, name: 最佳新人奖 Best new hire, by: revenue, within: floor, hired_within_days: 90,
     amounts: ["500.00"], ties: split}
"""
TIERS = ((Decimal("0"), "0.015"), (Decimal("0.8"), "0.02"), (Decimal("1.0"), "0.025"),
         (Decimal("1.2"), "0.03"))  # fmt: skip
REVENUE_TARGET = Decimal("3000.00")  # a few sales cross a tier


def _board_settings(settings: Settings, tmp_path: Path, spec: SimulationSpec) -> Settings:
    """Targets for every rep, a monthly revenue target for all but the last (who shows no tiers),
    the pay plan file, and payroll's inputs folder with a roster (every fifth rep a new hire)."""
    targets = tmp_path / "targets.yaml"
    reps = roster(spec)
    targets.write_text(
        "version: 1\ndefaults:\n  daily: {dials: 120, connects: 12, valid_connects: 6, talk_minutes: 30}\n"
        "  monthly: {sales: 20}\nreps:\n"
        + "".join(f"  {rep}: {{team: {team}, monthly: {{revenue: '{REVENUE_TARGET}'}}}}\n"
                  for rep, team in reps[:-1])  # fmt: skip
        + f"  {reps[-1][0]}: {{team: {reps[-1][1]}}}\n"
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    settings = in_daytime_zone(settings)
    today = business_day(datetime.now(UTC), settings.zone)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    hires = new_hires(spec)
    (inputs / "roster.csv").write_text("person_id,name,role,from,team,region,hired,left,base\n" + "".join(
        f"{rep},{rep},rep,,{team},,{today - timedelta(days=30) if rep in hires else '2024-01-01'},,\n"
        for rep, team in reps
    ))  # fmt: skip
    return settings.model_copy(update={
        "snapshot_topic": f"{settings.cdr_topic}.snapshots", "wallboard_port": free_port(),
        "wallboard_stale_seconds": 3.0, "targets_file": targets, "pay_plan_file": plan,
        "payroll_inputs_dir": inputs,
    })  # fmt: skip


def new_hires(spec: SimulationSpec) -> set[str]:
    return {rep for i, (rep, _) in enumerate(roster(spec)) if i % 5 == 4}


def expected_award_leaders(rows: list[dict], spec: SimulationSpec) -> set[tuple[str, str, str]]:
    """(award, group, rep) the floor's screen shows, worked out here from the report's month:
    the champion(s) by revenue then sales, each team's leader(s) by revenue, the best new hire."""
    teams = dict(roster(spec))
    revenue = {row["rep_id"]: (Decimal(row["revenue"]), row["sales"]) for row in rows}

    def leaders(candidates: list[str], key: Callable[[str], tuple]) -> list[str]:
        ranked = [rep for rep in candidates if revenue[rep][0] > 0]
        best = max((key(rep) for rep in ranked), default=None)
        return [rep for rep in ranked if key(rep) == best]

    shown = {("sales_champion", "floor", rep) for rep in leaders(list(revenue), lambda r: revenue[r])}
    for team in set(teams.values()):
        in_team = [rep for rep in revenue if teams[rep] == team]
        shown |= {("team_top_three", team, rep) for rep in leaders(in_team, lambda r: revenue[r][:1])}
    hires = [rep for rep in revenue if rep in new_hires(spec)]
    return shown | {("best_new_hire", "floor", rep) for rep in leaders(hires, lambda r: revenue[r][:1])}


def page_award_leaders(browser: Chromium) -> set[tuple[str, str, str]]:
    return {(award, group, rep) for award, group, rep, *_ in browser.evaluate(READ_AWARDS) or []}


def champion(browser: Chromium) -> set[str]:
    return {rep for award, _, rep in page_award_leaders(browser) if award == "sales_champion"}


def abandoned_calls(settings: Settings, rep: str, team: str, n: int) -> list[tuple[bytes, bytes]]:
    """``n`` calls of camp-01 a person answered and the dialer abandoned, three minutes ago: the
    simulated floor's camp-01 abandons about 8 % at random, which a run of the day may not reach;
    these put it over the 3 % line whatever the draw, so there is always an alert to page on."""
    dialed = datetime.now(settings.zone).replace(microsecond=0) - timedelta(minutes=3)
    return [(rep.encode(), orjson.dumps(cdr_dict(
        call_id=f"abandoned-{i}", rep_id=rep, team_id=team, campaign_id="camp-01",
        dialed_at=dialed.isoformat(), answered_at=(dialed + timedelta(seconds=8)).isoformat(),
        ended_at=(dialed + timedelta(seconds=9)).isoformat(), disposition="abandoned", amd="human",
        talk_seconds=1, wrap_seconds=0, outcome=None, sale_amount=None, currency=settings.currency,
        new_customer=False, list_price=None, sold_price=None,
    ))) for i in range(n)]  # fmt: skip


def a_sale(settings: Settings, rep: str, team: str, amount: Decimal) -> tuple[bytes, bytes]:
    """One answered outbound sale by ``rep`` two minutes ago, as the dialer produces it."""
    dialed = datetime.now(settings.zone).replace(microsecond=0) - timedelta(minutes=2)
    cdr = cdr_dict(
        call_id=f"award-sale-{rep}-{time.time_ns()}", rep_id=rep, team_id=team, campaign_id="camp-01",
        dialed_at=dialed.isoformat(), answered_at=(dialed + timedelta(seconds=12)).isoformat(),
        ended_at=(dialed + timedelta(seconds=72)).isoformat(), sale_amount=str(amount),
        list_price=str(amount), sold_price=str(amount), currency=settings.currency,
    )
    return rep.encode(), orjson.dumps(cdr)


def expected_tiers(rows: list[dict], no_target: str) -> dict[str, tuple[str, str]]:
    """rep -> (rate reached, revenue still needed for the next tier) from the report's month
    revenue, worked out here from the plan's tiers (boundary inclusive, amount rounded up)."""
    out = {}
    for row in rows:
        if row["rep_id"] == no_target:
            out[row["rep_id"]] = ("", "")
            continue
        revenue = Decimal(row["revenue"])
        reached = max(i for i, (start, _) in enumerate(TIERS) if revenue >= start * REVENUE_TARGET)
        to_next = ""
        if reached < len(TIERS) - 1:
            needed = TIERS[reached + 1][0] * REVENUE_TARGET - revenue
            to_next = str(needed.quantize(Decimal("0.01"), rounding=ROUND_CEILING))
        out[row["rep_id"]] = (TIERS[reached][1], to_next)
    return out


def page_tiers(browser: Chromium) -> dict[str, tuple[str, str]]:
    return {rep: (rate, to_next) for rep, rate, to_next, _ in browser.evaluate(READ_TIERS) or []}


def page_campaigns(browser: Chromium) -> dict[str, str]:
    rows = browser.evaluate("[...document.querySelectorAll('[data-campaign]')].map(r => [r.dataset.campaign, "
                            "r.querySelector('.rate').textContent])")  # fmt: skip
    return dict(rows or [])


def metrics_campaigns(port: int) -> dict[str, str]:
    """campaign -> the 30-day abandon rate of /metrics, as the page prints it."""
    return {
        dict(labels)["campaign"]: f"{value * 100:.2f} %"
        for (name, labels), value in samples(port).items()
        if name == "callfloor_campaign_abandon_rate_30d"
    }


def show_abandon_alerts(browser: Chromium, alertmanager: str, settings: Settings) -> dict[str, str]:
    """What the rules would page on now, fired in the real Alertmanager: CampaignAbandonRateHigh
    for each campaign the board shows over its line, with the board's figure, and resolved for
    each it shows under it (the data moves: a campaign over the line a minute ago may not be);
    returned once the page lists them so. The campaigns over the line -> their rate as shown."""
    wait_for(lambda: page_campaigns(browser) == metrics_campaigns(settings.web_port), 30,
             "the abandon rates of /metrics on the page")  # fmt: skip
    shown = browser.evaluate(READ_CAMPAIGNS)
    summaries = {}
    for campaign, (shown_rate, over) in shown.items():
        summaries[campaign] = (f"Campaign {campaign} abandoned {shown_rate} of answered calls over the last "
                               "30 days, above the 3% legal limit: lower its dialing pace now")  # fmt: skip
        post_alert(alertmanager, "CampaignAbandonRateHigh", "page", summaries[campaign], resolved=not over,
                   campaign=campaign)  # fmt: skip
    over = {campaign: shown_rate for campaign, (shown_rate, over) in shown.items() if over}
    # one alert is listed with its summary (the figure in it), several by their campaigns
    listed = (f"CampaignAbandonRateHigh: {summaries[next(iter(over))]}" if len(over) == 1
              else f"CampaignAbandonRateHigh ×{len(over)} · {', '.join(sorted(over))}")  # fmt: skip
    paged = lambda: [t for t in browser.evaluate(READ_ALERTS) if t.startswith("CampaignAbandonRateHigh")]  # noqa: E731
    wait_for(lambda: paged() == ([listed] if over else []), 30, "the board's campaigns over the line paged",
             progress=paged)  # fmt: skip
    return over


def screenshot_with_board_alerts(
    browser: Chromium, alertmanager: str, settings: Settings, path: Path
) -> None:
    """A screenshot whose abandon alerts are those of the campaigns the board shows over the line,
    with the figures it shows: taken again when the rates moved while the alerts were posted."""
    for _ in range(5):
        over = show_abandon_alerts(browser, alertmanager, settings)
        browser.screenshot(path)
        if {c: rate for c, (rate, is_over) in browser.evaluate(READ_CAMPAIGNS).items() if is_over} == over:
            return
    raise AssertionError(f"the abandon rates kept moving while {path.name} was taken")


def _drained(settings: Settings) -> bool:
    return lag(settings.kafka_bootstrap, settings.app_id, settings.cdr_topic) == 0


def test_page_equals_report_and_metrics_moves_live_and_goes_stale(
    settings: Settings, logs_dir: Path, tmp_path: Path, browser: Chromium, artifacts: Path,
    alertmanager: str,
) -> None:
    settings = in_daytime_zone(settings)
    spec = SimulationSpec(reps=REPS, calls=3_000, days=1, seed=11, duplicates=0.02, corrections=0.02,
                          timezone=settings.timezone)  # fmt: skip
    settings = _board_settings(settings, tmp_path, spec).model_copy(update={"alerts_url": alertmanager})
    ensure_topics(settings)
    produce(spec, settings)
    send_all(settings.kafka_bootstrap, settings.cdr_topic, abandoned_calls(settings, *roster(spec)[-2], 15))
    day = business_day(datetime.now(UTC), settings.zone).isoformat()
    url = f"http://127.0.0.1:{settings.wallboard_port}/"

    with running_wallboard(settings, logs_dir / "wallboard-page.log"):
        worker = running_worker(settings, logs_dir / "wallboard-page-worker.log")
        with worker:
            wait_for(lambda: _drained(settings), 180, "the worker to drain", every_s=2)
            before = report(settings, day, day)
            expected = expected_by_rep(before)
            assert len(expected) == REPS
            browser.open(url)
            wait_for(lambda: shown_by_rep(page_reps(browser)) == expected, 60,
                     "the page to show every rep with the report's numbers")  # fmt: skip
            rows = page_reps(browser)
            assert sorted(r["rep"] for r in rows) == sorted(expected), "a rep shown twice or missing"
            live = rep_day_actuals(settings.web_port) or {}
            as_rows = [{"rep_id": rep, **{k: int(v) for k, v in m.items()}} for rep, m in live.items()]
            assert shown_by_rep(rows) == expected_by_rep(as_rows), "the page differs from /metrics"
            wait_for(lambda: page_campaigns(browser) == metrics_campaigns(settings.web_port), 30,
                     "the abandon rates of /metrics on the page")  # fmt: skip
            assert len(page_campaigns(browser)) == 3
            # a floor where a dozen reps dial slowly: twelve warnings, grouped under one name
            slow = [rep for rep, _ in roster(spec)[:SLOW_REPS]]
            for rep, team in roster(spec)[:SLOW_REPS]:
                post_alert(alertmanager, "RepDialRateLow", "warning", f"{rep} ({team}) is dialing 12/h",
                           rep=rep, team=team)  # fmt: skip
            listed = lambda: browser.evaluate(READ_ALERTS)  # noqa: E731
            wait_for(lambda: any(t.startswith("RepDialRateLow") for t in listed()), 30, "the slow reps")
            assert_panels_on_screen(browser)
            over = show_abandon_alerts(browser, alertmanager, settings)
            assert over, f"no campaign over the 3 % line to page on: {browser.evaluate(READ_CAMPAIGNS)}"
            teams = {row[1]: number(row[2]) for row in browser.evaluate(READ_TEAMS)}
            by_team = report(settings, day, day, by="team")
            assert teams == {r["team_id"]: r["dials"] for r in by_team}
            assert browser.evaluate(ALL_ROWS_VISIBLE), "a team of 30 does not fit the 1080p screen"
            no_target = roster(spec)[-1][0]
            tiers = expected_tiers(before, no_target)
            wait_for(lambda: page_tiers(browser) == tiers, 30, "each rep's commission tier on the page",
                     progress=lambda: page_tiers(browser))  # fmt: skip
            texts = {rep: text for rep, _, _, text in browser.evaluate(READ_TIERS)}
            assert texts[no_target] == "", "a rep with no revenue target shows a tier"
            climbing = next(rep for rep, (_, to_next) in tiers.items() if to_next)
            amount = f"{math.ceil(Decimal(tiers[climbing][1])):,}"
            assert re.fullmatch(rf"[\d.]+ % · ¥{amount} to [\d.]+ %", texts[climbing]), texts[climbing]
            leaders = expected_award_leaders(before, spec)
            wait_for(lambda: page_award_leaders(browser) == leaders, 30, "the award leaders on the page",
                     progress=lambda: page_award_leaders(browser))  # fmt: skip
            names = browser.evaluate(READ_AWARD_NAMES)
            assert names == ["Monthly sales champion", "Top three per team", "Best new hire"], names
            # the page first, then the dozen warnings on one line: the awards stay on the screen
            groups = [["CampaignAbandonRateHigh", len(over), sorted(over)[:3]],
                      ["RepDialRateLow", SLOW_REPS, slow[:3]]]  # fmt: skip
            wait_for(lambda: browser.evaluate(READ_ALERT_GROUPS) == groups, 30, "alerts grouped, pages first",
                     progress=lambda: browser.evaluate(READ_ALERT_GROUPS))  # fmt: skip
            assert any(f"RepDialRateLow ×{SLOW_REPS} · {', '.join(slow[:3])} +{SLOW_REPS - 3}" == text
                       for text in browser.evaluate(READ_ALERTS)), browser.evaluate(READ_ALERTS)  # fmt: skip
            assert_panels_on_screen(browser)
            screenshot_with_board_alerts(browser, alertmanager, settings, artifacts / "wallboard-en.png")

            browser.evaluate("window.notReloaded = true")
            more = SimulationSpec(reps=REPS, calls=300, days=1, seed=12, timezone=settings.timezone)
            truth = produce(more, settings)
            produced_at = time.monotonic()
            added = [row for row in truth.calls.values() if row["business_day"] == day]
            moved = expected_by_rep(summed(before, added))
            assert moved != expected
            wait_for(lambda: shown_by_rep(page_reps(browser)) == moved, 60,
                     "the page to show the new calls", every_s=0.05)  # fmt: skip
            print(f"new calls all produced -> all on the page: {time.monotonic() - produced_at:.2f} s")
            sold = summed_revenue(before, added)
            moved_tiers = expected_tiers(sold, no_target)
            assert moved_tiers != tiers, "the new calls moved no rep's tier hint"
            wait_for(lambda: page_tiers(browser) == moved_tiers, 30, "the tier hints to move with the sales",
                     every_s=0.05)  # fmt: skip
            print(f"new sales produced -> tier hints moved: {time.monotonic() - produced_at:.2f} s")
            wait_for(lambda: _drained(settings), 120, "the worker to commit the new calls", every_s=1)
            after = report(settings, day, day)
            assert expected_by_rep(after) == moved, "the page differs from the report"
            wait_for(lambda: page_award_leaders(browser) == expected_award_leaders(after, spec), 30,
                     "the award leaders of the new calls")  # fmt: skip

            # one sale makes a rep who is behind the champion and under the top tier the champion,
            # at the top tier
            top = max(*(Decimal(row["revenue"]) for row in after), REVENUE_TARGET * TIERS[-1][0]) + 1
            leading = champion(browser) | {no_target, climbing}
            chaser = next(rep for rep, (_, to_next) in expected_tiers(after, no_target).items()
                          if to_next and rep not in leading)  # fmt: skip
            teams = dict(roster(spec))
            sale = a_sale(settings, chaser, teams[chaser], top)
            sold_at = time.monotonic()  # before the producer is even made: the clock is never kind to us
            send_all(settings.kafka_bootstrap, settings.cdr_topic, [sale])
            wait_for(lambda: champion(browser) == {chaser}, 30, "the new champion on the page", every_s=0.02)
            to_leader = time.monotonic() - sold_at
            wait_for(lambda: page_tiers(browser)[chaser] == ("0.03", ""), 30, "the chaser's tier hint",
                     every_s=0.02)  # fmt: skip
            to_tier = time.monotonic() - sold_at
            print(f"a sale produced -> award leader changed: {to_leader:.2f} s, tier hint: {to_tier:.2f} s")
            assert to_leader < 2.0, f"the award leader changed {to_leader:.2f} s after the sale (2 s allowed)"
            assert to_tier < 2.0, f"the tier hint moved {to_tier:.2f} s after the sale (2 s allowed)"
            assert ("team_top_three", teams[chaser], chaser) in page_award_leaders(browser)
            assert browser.evaluate("window.notReloaded === true"), "the page reloaded instead of updating"

            browser.open(url + "?lang=zh")
            wait_for(lambda: len(page_reps(browser)) == REPS, 30, "the Chinese page")
            heading = browser.evaluate("document.querySelector('[data-label=leaderboard]').textContent")
            assert heading == "今日团队排名"
            zh = {rep: text for rep, _, _, text in browser.evaluate(READ_TIERS)}
            assert re.fullmatch(r"[\d.]+ % · 还差 ¥[\d,]+ 到 [\d.]+ %", zh[climbing]), zh[climbing]
            zh_names = browser.evaluate(READ_AWARD_NAMES)
            assert zh_names == ["月度销售冠军", "团队前三", "最佳新人奖"], zh_names
            wait_for(lambda: len(browser.evaluate(READ_ALERT_GROUPS)) == 2, 30, "the Chinese alerts")
            assert_panels_on_screen(browser)
            screenshot_with_board_alerts(browser, alertmanager, settings, artifacts / "wallboard-zh.png")

            team = rows[0]["team"]
            browser.open(url + f"?team={team}")
            wait_for(lambda: {r["team"] for r in page_reps(browser)} == {team}, 30, "the team filter")
            browser.open(url + "?campaign=camp-02")
            wait_for(lambda: list(page_campaigns(browser)) == ["camp-02"], 30, "the campaign filter")
        # the worker is stopped: the page must say its numbers are not live
        wait_for(lambda: browser.evaluate(READ_BANNER) is not None, 30, "the stale banner")
        banner = browser.evaluate(READ_BANNER)
        assert "NOT LIVE" in banner and " s old" in banner, banner
        wait_for(lambda: browser.evaluate(ALL_ROWS_VISIBLE), 5, "the rows to fit under the banner")
        browser.screenshot(artifacts / "wallboard-stale.png")


def test_two_workers_one_killed_every_rep_shown_once(
    settings: Settings, logs_dir: Path, tmp_path: Path, browser: Chromium
) -> None:
    settings = in_daytime_zone(settings)
    spec = SimulationSpec(reps=24, calls=2_400, days=1, seed=21, timezone=settings.timezone)
    settings = _board_settings(settings, tmp_path, spec)
    second = settings.model_copy(update={"web_port": free_port()})
    ensure_topics(settings)
    produce(spec, settings)
    day = business_day(datetime.now(UTC), settings.zone).isoformat()

    with running_wallboard(settings, logs_dir / "wallboard-two.log"), \
            running_worker(settings, logs_dir / "wallboard-two-a.log"):  # fmt: skip
        victim = Worker(second, logs_dir / "wallboard-two-b.log").start()
        try:
            wait_for(lambda: _drained(settings), 180, "both workers to drain", every_s=2)
            wait_for(lambda: bool(rep_actuals(settings.web_port)) and bool(rep_actuals(second.web_port)),
                       120, "both workers to hold reps")  # fmt: skip
            expected = expected_by_rep(report(settings, day, day))
            browser.open(f"http://127.0.0.1:{settings.wallboard_port}/")
            wait_for(lambda: shown_by_rep(page_reps(browser)) == expected, 60, "every rep, from both workers")
            victim.kill()  # SIGKILL: no goodbye, its last snapshots stay in the topic
            seen_counts = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                reps = [r["rep"] for r in page_reps(browser)]
                seen_counts.append(len(reps))
                assert len(reps) == len(set(reps)), f"a rep shown twice: {sorted(reps)}"
                assert set(reps) == set(expected), "a rep missing after the kill"
                if len(seen_counts) > 20 and rep_actuals(settings.web_port).keys() == expected.keys():
                    break
                time.sleep(0.25)
            assert rep_actuals(settings.web_port).keys() == expected.keys(), "the survivor never took over"
            # new calls for every rep: only the survivor's snapshots can carry them to the page
            produce(
                dataclasses.replace(spec, calls=300, seed=22), settings
            )
            wait_for(lambda: _drained(settings), 120, "the survivor to take the new calls", every_s=1)
            moved = expected_by_rep(report(settings, day, day))
            assert moved != expected
            wait_for(
                lambda: shown_by_rep(page_reps(browser)) == moved, 60, "the survivor's numbers on the page"
            )
            _assert_survivor_generation_higher(settings)
        finally:
            victim.stop()


def _assert_survivor_generation_higher(settings: Settings) -> None:
    """The worker that took over published in a later group generation than the killed one."""
    messages = [decode(r.value) for r in read_topic(settings.kafka_bootstrap, settings.snapshot_topic)]
    last_seen: dict[str, float] = {}
    generations: dict[str, int] = {}
    for m in messages:
        last_seen[m.worker] = max(last_seen.get(m.worker, 0.0), m.ts)
        generations[m.worker] = max(generations.get(m.worker, 0), m.generation)
    assert len(last_seen) == 2, f"expected two workers in the topic, found {sorted(last_seen)}"
    survivor, victim = sorted(last_seen, key=last_seen.__getitem__, reverse=True)
    assert generations[survivor] > generations[victim], generations


def test_hostile_names_are_shown_as_text_under_the_policy(
    settings: Settings, logs_dir: Path, browser: Chromium
) -> None:
    """Snapshots straight onto the topic (no worker needed): the names must come out as text."""
    settings = settings.model_copy(update={
        "snapshot_topic": f"{settings.cdr_topic}.snapshots", "wallboard_port": free_port(), "timezone": "UTC",
    })  # fmt: skip
    ensure_topics(settings)
    rep, team = "<script>window.pwned=1</script>", '<img src=x onerror="window.pwned=2">'
    now = time.time()
    day = business_day(datetime.now(UTC), settings.zone).isoformat()
    messages = [
        RepSnapshot(rep, team, day, {"dials": 7}, {"sales": 0}, 0, "w", 1, now),
        Heartbeat("w", 1, [0, 1, 2, 3], 4, now, now, 0, {"<i>camp</i>": (1, 9)}),
    ]
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    for message in messages:
        producer.send(settings.snapshot_topic, key=key_of(message), value=encode(message))
    producer.flush()
    producer.close()
    with running_wallboard(settings, logs_dir / "wallboard-escaping.log"):
        url = f"http://127.0.0.1:{settings.wallboard_port}/"
        with urlopen(url) as response:
            assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        browser.open(url)
        wait_for(lambda: len(page_reps(browser)) == 1, 30, "the hostile rep on the page")
        row = page_reps(browser)[0]
        assert (row["name"], row["team"]) == (rep, team)
        campaign = browser.evaluate("document.querySelector('[data-campaign] .name').textContent")
        assert campaign == "<i>camp</i>"
        assert browser.evaluate("typeof window.pwned") == "undefined"
        assert browser.evaluate("document.scripts.length") == 1
        assert browser.evaluate("document.querySelectorAll('img, i').length") == 0
        # no CALLFLOOR_ALERTS_URL: the board cannot know, so it never says "no alerts firing"
        assert browser.evaluate(READ_ALERTS) == ["Alerts not connected"]
        browser.open(url + "?lang=zh")
        wait_for(lambda: browser.evaluate(READ_ALERTS) == ["告警未连接"], 30, "the Chinese panel")

        # a second wallboard process beside the first: no group, each reads everything
        other = settings.model_copy(update={"wallboard_port": free_port()})
        with running_wallboard(other, logs_dir / "wallboard-escaping-2.log"):
            browser.open(f"http://127.0.0.1:{other.wallboard_port}/")
            wait_for(
                lambda: [r["rep"] for r in page_reps(browser)] == [rep], 30, "the rep on a second wallboard"
            )
