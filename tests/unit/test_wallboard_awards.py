"""The wallboard's awards panel: the plan's awards ranked month to date from the floor's
snapshots by payroll's own ``rank_awards``, so the board's places are the statements' places
(ties, tie-breakers, new-hire window, team groups), and the month just ended is still ranked
on the first day of the next."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from deploy.local.demo import EXAMPLE_PLAN, write_demo_roster
from payroll.compute import compute_month
from payroll.plan import PayPlanError
from schemas.kpis import MONTHLY_COUNTERS
from schemas.snapshots import RepSnapshot
from simulator import SimulationSpec
from tests.unit.payroll_month import OCTOBER, PLAN, ROSTER_HEADER, calls, inputs, month, rep, workdays
from wallboard.awards import RANK_EVERY_SECONDS, AwardBoard, RosterWatcher, live_problem, standings
from wallboard.floor import Floor

# October 2026: team-01 and team-02; rep-new hired within best_new_hire's 90 days; rep-a and
# rep-b tie on revenue and on the tie-breaker, sales (champion: split), rep-c and rep-d tie in
# team-02 (share); rep-lead leads team-01 and dials too (a lead is not ranked by reps' awards).
ROSTER = (
    rep("rep-a", "team-01"),
    rep("rep-b", "team-01"),
    rep("rep-x", "team-01"),
    rep("rep-c", "team-02"),
    rep("rep-d", "team-02"),
    rep("rep-new", "team-02", hired="2026-09-14"),
    "rep-lead,Lead,team_lead,,team-01,,2024-01-01,,",
)
PASS_RATE = "rep_id,actual,target\nrep-lead,1,1\n"
DAYS = workdays(1, 30)
DAILY = {
    "rep-a": ("team-01", {"sales": 2, "revenue": 100_000, "new_customers": 1}),
    "rep-b": ("team-01", {"sales": 2, "revenue": 100_000, "new_customers": 0}),
    "rep-x": ("team-01", {"sales": 1, "revenue": 30_000}),
    "rep-c": ("team-02", {"sales": 1, "revenue": 50_000}),
    "rep-d": ("team-02", {"sales": 1, "revenue": 50_000}),
    "rep-new": ("team-02", {"sales": 1, "revenue": 20_000, "new_customers": 1}),
    "rep-lead": ("team-01", {"sales": 9, "revenue": 900_000}),
    "rep-ghost": ("team-02", {"sales": 1, "revenue": 10_000}),  # dials but is not on the roster
}


def snapshot(rep_id: str, day: date, ts: float, days: int) -> RepSnapshot:
    """The rep's snapshot on ``day``: the month to date as the worker publishes it."""
    team, per_day = DAILY[rep_id]
    month_to_date = {c.name: per_day.get(c.name, 0) * days for c in MONTHLY_COUNTERS}
    return RepSnapshot(rep_id, team, day.isoformat(), {}, month_to_date, 0, "w", 1, ts)


def statement_places(text_inputs) -> dict[str, set]:  # noqa: ANN001 - payroll Inputs
    """award -> {(group, person, rank, amount)} from the statements of October."""
    data = month({k: v for r, (team, per_day) in DAILY.items() if r != "rep-ghost"
                  for k, v in calls(r, team, DAYS, **per_day).items()})  # fmt: skip
    out: dict[str, set] = {}
    for st in compute_month(PLAN, data, text_inputs):
        for line in st.awards:
            out.setdefault(line.award, set()).add((line.group, st.person, line.rank, str(line.amount)))
    return out


def board_places(ranked: dict) -> dict[str, set]:
    return {
        award["id"]: {
            (group["group"], place["rep"], place["rank"], place["amount"])
            for group in award["groups"]
            for place in group["places"]
        }
        for award in ranked["awards"]
        if award["groups"]
    }


def test_the_board_ranks_as_the_statements_pay() -> None:
    given = inputs(PLAN, *ROSTER, new_hire_pass_rate_csv=PASS_RATE)
    last = date(2026, 10, 30)
    ranked = standings(PLAN, given.roster, OCTOBER, [snapshot(r, last, 1.0, len(DAYS)) for r in DAILY])
    paid = statement_places(given)
    assert board_places(ranked) == {k: v for k, v in paid.items() if k != "best_script"}
    # the plan's tie rules, applied by the shared function
    champion = board_places(ranked)["sales_champion"]
    assert champion == {("floor", "rep-a", 1, "500.00"), ("floor", "rep-b", 1, "500.00")}, "tied: split"
    assert {p for p in board_places(ranked)["team_top_three"] if p[0] == "team-02"} == {
        ("team-02", "rep-c", 1, "600.00"),
        ("team-02", "rep-d", 1, "600.00"),
        ("team-02", "rep-new", 3, "200.00"),
    }
    assert board_places(ranked)["best_new_hire"] == {("floor", "rep-new", 1, "500.00")}
    assert "rep-lead" not in {p[1] for places in board_places(ranked).values() for p in places}
    assert ranked["unknown"] == ["rep-ghost"]
    script = next(a for a in ranked["awards"] if a["id"] == "best_script")
    assert (script["live"], script["problem"]) == (False, "csv")


def test_on_the_first_day_the_month_just_ended_is_final() -> None:
    given = inputs(PLAN, *ROSTER, new_hire_pass_rate_csv=PASS_RATE)
    board = AwardBoard(None, PLAN)
    board.roster.roster = given.roster  # as if read from CALLFLOOR_PAYROLL_INPUTS_DIR
    floor = Floor(10.0, started=0.0)
    for r in DAILY:
        floor.apply(snapshot(r, date(2026, 10, 30), 1.0, len(DAYS)), 2.0)
    november = date(2026, 11, 1)
    # rep-a sells on the 1st: its snapshot of November replaces October's on the board
    floor.apply(RepSnapshot("rep-a", "team-01", november.isoformat(), {}, {"sales": 1, "revenue": 5_000},
                            0, "w", 1, 3.0), 4.0)  # fmt: skip
    panel = board.panel(floor, PLAN, november, None, 5.0)
    assert panel["state"] == "ok" and panel["month"] == "2026-11"
    champion = next(a for a in panel["awards"] if a["id"] == "sales_champion")
    assert [p["rep"] for g in champion["groups"] for p in g["places"]] == ["rep-a"]
    assert panel["awards"][0]["groups"][0]["places"][0]["value"] == "50.00"  # revenue in currency units
    final = panel["final"]
    assert final["month"] == "2026-10"
    expected = statement_places(given)
    shown = board_places(final)
    assert shown["sales_champion"] == expected["sales_champion"]
    assert shown["best_new_hire"] == expected["best_new_hire"]
    # the floor's screen shows each team's leaders; a team's screen every place of its team
    assert shown["team_top_three"] == {p for p in expected["team_top_three"] if p[2] == 1}
    team02 = board_places(board.panel(floor, PLAN, november, "team-02", 5.0)["final"])
    assert team02["team_top_three"] == {p for p in expected["team_top_three"] if p[0] == "team-02"}
    assert board.panel(floor, PLAN, november + timedelta(days=1), None, 5.0)["final"] is None


def test_ranked_when_the_month_changes_at_most_every_half_second() -> None:
    given = inputs(PLAN, *ROSTER, new_hire_pass_rate_csv=PASS_RATE)
    board = AwardBoard(None, PLAN)
    floor = Floor(10.0, started=0.0)
    day = date(2026, 10, 5)
    floor.apply(snapshot("rep-x", day, 1.0, 1), 1.0)

    def leader(now: float) -> str:
        ranked = board.ranked(floor, PLAN, given.roster, OCTOBER, now)
        return ranked["awards"][0]["groups"][0]["places"][0]["rep"]

    assert leader(10.0) == "rep-x"
    floor.apply(snapshot("rep-a", day, 2.0, 1), 2.0)  # rep-a sells more
    assert leader(10.2) == "rep-x", "ranked again within RANK_EVERY_SECONDS"
    assert leader(10.0 + RANK_EVERY_SECONDS) == "rep-a"
    same_month = floor.reps["rep-x"].month
    dials = RepSnapshot("rep-x", "team-01", day.isoformat(), {"dials": 9}, same_month, 0, "w", 1, 3.0)
    before = board._ranked[OCTOBER]
    floor.apply(dials, 3.0)  # a dial, no sale: the standings are not ranked again
    leader(20.0)
    assert board._ranked[OCTOBER] is before and before.at == 10.0 + RANK_EVERY_SECONDS


def test_no_plan_no_awards_no_roster_are_said() -> None:
    floor = Floor(10.0, started=0.0)
    today = date(2026, 10, 5)
    assert AwardBoard(None, None).panel(floor, None, today, None, 0.0)["state"] == "no_plan"
    no_roster = AwardBoard(None, PLAN).panel(floor, PLAN, today, None, 0.0)
    assert no_roster == {"state": "no_roster", "detail": "CALLFLOOR_PAYROLL_INPUTS_DIR is not set"}


def test_roster_watcher_missing_bad_and_edited(tmp_path: Path) -> None:
    watcher = RosterWatcher(tmp_path, PLAN)
    assert watcher.roster is None and watcher.missing == f"{tmp_path / 'roster.csv'} not found"
    (tmp_path / "roster.csv").write_text(ROSTER_HEADER + rep("rep-a") + "\n")
    assert watcher.check(PLAN) and set(watcher.roster.people) == {"rep-a"}
    (tmp_path / "roster.csv").write_text(ROSTER_HEADER + "rep-b,B,astronaut,,team-01,,2025-01-01,,\n")
    assert not watcher.check(PLAN), "a bad edit must not replace the roster in force"
    assert set(watcher.roster.people) == {"rep-a"}
    with pytest.raises(PayPlanError, match="line 2"):
        RosterWatcher(tmp_path, PLAN)  # a bad roster at start stops the wallboard


def test_what_the_board_cannot_rank_live() -> None:
    by_award = {award.id: live_problem(award) for award in PLAN.doc.awards}
    assert by_award == {
        "sales_champion": None, "team_top_three": None, "best_new_hire": None, "best_script": "csv",
    }  # fmt: skip
    lead_award = PLAN.doc.awards[0].model_copy(update={"roles": [*PLAN.doc.awards[0].roles, "team_lead"]})
    assert live_problem(lead_award) == "roles"
    by_dials = PLAN.doc.awards[0].model_copy(update={"by": "dials"})
    assert live_problem(by_dials) == "counter"


def test_the_demo_roster_gives_every_live_award_candidates(tmp_path: Path) -> None:
    """`callfloor demo` writes a roster of its simulated reps: it loads with the example plan,
    some reps are recent hires (best new hire), and a team in no region of the plan is left
    out (payroll would refuse it) instead of stopping the wallboard."""
    today = date(2026, 10, 20)
    write_demo_roster(tmp_path, EXAMPLE_PLAN, SimulationSpec(reps=60, calls=0, live=True), today)
    roster = RosterWatcher(tmp_path, PLAN).roster
    assert roster is not None and len(roster.people) == 50  # team-06 is in no region of the plan
    hires = [p.id for p in roster.people.values() if (today - p.hired).days < 90]
    assert len(hires) == 10 and "rep-005" in hires
    snapshots = [RepSnapshot(r, "", "2026-10-20", {}, {"revenue": 100 + i}, 0, "w", 1, 1.0)
                 for i, r in enumerate(sorted(roster.people))]  # fmt: skip
    ranked = board_places(standings(PLAN, roster, OCTOBER, snapshots))
    assert set(ranked) == {"sales_champion", "team_top_three", "best_new_hire"}
