"""Several awards in one plan, each with its tie rule, ranked by one pure function
(payroll.awards.rank_awards) that the statements and the wallboard share."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from payroll.awards import rank_awards
from payroll.compute import compute_month
from schemas.roster import Role
from tests.unit.payroll_month import OCTOBER, PLAN, calls, inputs, month, rep, targets, workdays


def figures(**revenue: str) -> dict:
    return {
        (person.replace("_", "-"), Role.REP): {"revenue": Decimal(v), "sales": Decimal(1)}
        for person, v in revenue.items()
    }


def places(won: dict, award: str) -> dict:
    return {
        person: (line.rank, line.amount)
        for person, lines in won.items()
        for line in lines
        if line.award == award
    }


def test_every_award_of_the_plan_at_once() -> None:
    roster = inputs(
        PLAN,
        rep("rep-a", "team-01"),
        rep("rep-b", "team-01"),
        rep("rep-c", "team-01"),
        rep("rep-d", "team-02"),
        rep("rep-new", "team-02", hired="2026-09-14"),
    ).roster
    won = rank_awards(
        PLAN, roster, OCTOBER, figures(rep_a="900", rep_b="900", rep_c="100", rep_d="50", rep_new="60")
    )
    # floor-wide champion, tie split: 1,000.00 / 2
    assert places(won, "sales_champion") == {"rep-a": (1, Decimal("500.00")), "rep-b": (1, Decimal("500.00"))}
    # top three per team, ties share the place and skip the next (1, 1, 3)
    assert places(won, "team_top_three") == {
        "rep-a": (1, Decimal("600.00")),
        "rep-b": (1, Decimal("600.00")),
        "rep-c": (3, Decimal("200.00")),
        "rep-new": (1, Decimal("600.00")),
        "rep-d": (2, Decimal("400.00")),
    }
    # best new hire: only people hired within 90 days of 31 October
    assert places(won, "best_new_hire") == {"rep-new": (1, Decimal("500.00"))}


def test_then_by_breaks_a_tie_before_the_tie_rule() -> None:
    roster = inputs(PLAN, rep("rep-a"), rep("rep-b")).roster
    given = figures(rep_a="900", rep_b="900")
    given[("rep-b", Role.REP)] = {"revenue": Decimal("900"), "sales": Decimal(3)}
    assert places(rank_awards(PLAN, roster, OCTOBER, given), "sales_champion") == {
        "rep-b": (1, Decimal("1000.00"))
    }


def test_no_figure_no_place_and_days_in_another_role_do_not_count() -> None:
    roster = inputs(
        PLAN, rep("rep-a"), "rep-b,B,rep,,team-01,,2025-01-01,,", "rep-b,,team_lead,2026-10-15,team-01,,,,"
    ).roster
    given = {("rep-a", Role.REP): {"revenue": Decimal(0)}, ("rep-b", Role.TEAM_LEAD): {"revenue": Decimal(5)}}
    assert rank_awards(PLAN, roster, OCTOBER, given) == {}


def test_statements_carry_the_awards_ranked_on_the_calls() -> None:
    data = month(
        calls("rep-a", "team-01", [date(2026, 10, 5)], revenue=90_000, sales=1)
        | calls("rep-b", "team-01", workdays(5, 6), revenue=50_000, sales=1),
        targets("rep-a") + targets("rep-b"),
    )
    out = {st.person: st for st in compute_month(PLAN, data, inputs(PLAN, rep("rep-a"), rep("rep-b")))}
    assert [(a.award, a.rank, a.amount) for a in out["rep-b"].awards] == [
        ("sales_champion", 1, Decimal("1000.00")),
        ("team_top_three", 1, Decimal("600.00")),
    ]
    assert [(a.award, a.rank) for a in out["rep-a"].awards] == [("team_top_three", 2)]
    assert out["rep-b"].awards_total == Decimal("1600.00")


def test_best_pitch_ranks_a_csv_kpi_and_the_plan_refuses_an_unknown_figure() -> None:
    """最佳话术奖 is a quality score from a CSV (the QA team's), not a counter of the calls."""
    from payroll.plan import PayPlanError
    from tests.unit.payroll_month import TEXT, plan_with

    day = [date(2026, 10, 5)]
    data = month(calls("rep-a", "team-01", day, revenue=1) | calls("rep-b", "team-01", day), targets("rep-a"))
    given = inputs(PLAN, rep("rep-a"), rep("rep-b"), script_quality_csv="rep_id,actual\nrep-a,81\nrep-b,95\n")
    out = {st.person: st for st in compute_month(PLAN, data, given)}
    assert [(a.award, a.value, a.amount) for a in out["rep-b"].awards] == [
        ("best_script", Decimal(95), Decimal("300.00"))
    ]
    assert not [a for a in out["rep-a"].awards if a.award == "best_script"]
    assert "by: script_quality" in TEXT
    with pytest.raises(PayPlanError) as caught:
        plan_with("    by: script_quality", "    by: script_qualty")
    assert caught.value.field == "awards.3.by" and "not a KPI counter or a csv KPI" in str(caught.value)
