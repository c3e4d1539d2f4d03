"""The pay rules, on hand-built months: no services, each defect of issue 22 as a case.

October 2026 has 22 working days (Monday to Friday), the example plan's 计薪天数.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from payroll.compute import AdjustmentLine, attainment, compute_month, tier_of
from payroll.plan import PayPlanError
from payroll.statements import warnings
from schemas.pay_month import Activity
from tests.unit.payroll_month import (
    PLAN,
    calls,
    inputs,
    kpi,
    month,
    plan_with,
    rep,
    rep_scored_on,
    targets,
    workdays,
)

LEAD_PASS = "rep_id,actual,target\nlead-1,0.8,0.8\n"


def by_person(statements: list) -> dict:
    return {st.person: st for st in statements}


def test_every_total_is_its_parts_to_the_cent() -> None:
    data = month(
        calls("rep-100", "team-09", workdays(1, 31), outbound_connects=7, revenue=56_117),
        targets("rep-100", "team-09", connects=3, revenue="9999.99"),
    )
    plan = plan_with("  west: [team-04, team-05]", "  west: [team-04, team-05, team-09]")
    given = inputs(plan, rep("rep-100", "team-09"))
    given.allowances["rep-100"] = [
        *parse_allowances(plan, "rep-100,meal,300.05\nrep-100,late,-0.10\n", "rep-100", "team-09")
    ]
    (st,) = compute_month(plan, data, given)
    (part,) = st.parts
    assert st.total == part.base + part.performance + part.commission.amount + st.awards_total + Decimal(
        "299.95"
    )
    assert all(x == x.quantize(Decimal("0.01")) for x in (st.total, st.performance, st.commission))


def parse_allowances(plan, rows: str, person: str, team: str):  # noqa: ANN001, ANN201
    return inputs(plan, rep(person, team), allowances_csv="rep_id,item,amount\n" + rows).allowances[person]


def test_a_typo_in_the_allowances_stops_the_run_with_file_line_and_id() -> None:
    """Issue 22: `rep-0002` in allowances.csv got a statement with full base pay (4,300.00)."""
    with pytest.raises(PayPlanError) as caught:
        inputs(
            PLAN, rep("rep-002"), allowances_csv="rep_id,item,amount\nrep-002,meal,300\nrep-0002,meal,300\n"
        )
    assert str(caught.value) == "allowances.csv line 3: rep_id: 'rep-0002' is not on the roster (roster.csv)"


def test_calls_of_someone_not_on_the_roster_stop_the_run() -> None:
    """Issue 22: a rep whose calls were all corrected to another rep was owed -4,000.00 after a
    close: a name on calls alone is never a payee."""
    data = month(calls("rep-0002", "team-01", workdays(1, 2), outbound_connects=1))
    with pytest.raises(PayPlanError) as caught:
        compute_month(PLAN, data, inputs(PLAN, rep("rep-002")))
    assert "ClickHouse calls of 2026-10: rep_id: 'rep-0002' has calls but is not on the roster" in str(
        caught.value
    )


def test_calls_outside_employment_stop_the_run() -> None:
    data = month(calls("rep-002", "team-01", workdays(1, 30), outbound_connects=1))
    with pytest.raises(PayPlanError, match=r"'rep-002' has calls on 2026-10-21, outside employment"):
        compute_month(PLAN, data, inputs(PLAN, rep("rep-002", left="2026-10-20")))


def test_a_month_is_prorated_by_pay_days_between_hire_and_leave() -> None:
    """Issue 22: a rep who dialed on one day and one who dialed on 22, both on target, were both
    paid 6,000.00. Now the one hired on the 30th is paid 1 of 22 working days."""
    full, late = "rep-001", "rep-002"
    data = month(
        calls(full, "team-01", workdays(1, 31), outbound_connects=20)
        | calls(late, "team-01", [date(2026, 10, 30)], outbound_connects=20),
        targets(full) + targets(late),
    )
    plan = rep_scored_on('{outbound_connects: "1"}')
    out = by_person(compute_month(plan, data, inputs(plan, rep(full), rep(late, hired="2026-10-30"))))
    assert (out[full].base, out[full].performance) == (Decimal("4000.00"), Decimal("2000.00"))
    assert (out[late].base, out[late].performance) == (Decimal("181.82"), Decimal("90.91"))  # x 1/22
    assert out[late].parts[0].pay_days == 1 and out[late].parts[0].month_pay_days == 22


def test_calendar_pay_days_prorate_by_every_day() -> None:
    plan = plan_with("pay_days: working_days", "pay_days: calendar")
    (st,) = compute_month(
        plan, month({}), inputs(plan, rep("rep-002", hired="2026-10-10", left="2026-10-20"))
    )
    assert st.parts[0].pay_days == 11 and st.base == Decimal("1419.35")  # 4000 x 11 / 31


def test_a_leads_target_is_the_sum_of_each_reps_target_for_their_own_days() -> None:
    """Issue 22: two reps at exactly 100 % (20 and 10 days) put their lead at 0.7500."""
    data = month(
        calls("rep-a", "team-01", workdays(1, 28), outbound_connects=20)  # 20 working days
        | calls("rep-b", "team-01", workdays(1, 14), outbound_connects=20),  # 10 working days
        targets("rep-a") + targets("rep-b"),
    )
    assert len(workdays(1, 28)) == 20 and len(workdays(1, 14)) == 10
    roster = (rep("rep-a"), rep("rep-b"), "lead-1,Lead,team_lead,,team-01,,2024-01-01,,")
    out = by_person(compute_month(PLAN, data, inputs(PLAN, *roster, new_hire_pass_rate_csv=LEAD_PASS)))
    assert kpi(out["rep-a"].parts[0], "outbound_connects").attainment == Decimal("1.0000")
    assert kpi(out["rep-b"].parts[0], "outbound_connects").attainment == Decimal("1.0000")
    lead = kpi(out["lead-1"].parts[0], "outbound_connects")
    assert (lead.actual, lead.target, lead.attainment) == (Decimal(600), Decimal(600), Decimal("1.0000"))


def test_a_missing_csv_row_is_an_error_or_scores_zero_never_better() -> None:
    """Issue 22: absent from a CSV KPI file was 'not applicable' (2,000.00) while listed with 0
    scored 0 (1,600.00)."""
    data = month(calls("lead-1", "team-01", workdays(1, 31), outbound_connects=20), targets("lead-1"))
    lead = "lead-1,Lead,team_lead,,team-01,,2024-01-01,,"
    with pytest.raises(PayPlanError) as caught:
        compute_month(PLAN, data, inputs(PLAN, lead))
    assert str(caught.value).startswith("new_hire_pass_rate.csv: rep_id: no row for 'lead-1'")
    absent = compute_month(PLAN, data, inputs(PLAN, rep("lead-1")))[0]
    listed = compute_month(
        PLAN, data, inputs(PLAN, rep("lead-1"), collection_csv="rep_id,actual,target\nlead-1,0,1\n")
    )[0]
    assert kpi(absent.parts[0], "collection").points == 0 == kpi(listed.parts[0], "collection").points
    assert absent.total == listed.total


def test_a_score_is_cut_not_rounded_so_it_never_passes_a_floor_it_misses() -> None:
    """Issue 22: an exact score just under 0.60 rounded to 0.6000 and passed the 0.60 floor."""
    plan = rep_scored_on('{revenue: "1"}')
    data = month(
        calls("rep-1", "team-01", [date(2026, 10, 5)], revenue=599_950), targets("rep-1", revenue="10000.00")
    )
    (st,) = compute_month(plan, data, inputs(plan, rep("rep-1")))
    assert st.parts[0].score == Decimal("0.5999") and not st.parts[0].floor_met and st.performance == 0


def test_one_figure_decides_the_kpi_floor_and_the_commission_tier() -> None:
    """Issue 22: a KPI floor of 0.8 was passed by 7,999.50 of 10,000 while commission treated it
    as under 80 %, and the statement showed 80.00 % beside 'tier from 0.00 %'."""
    plan = plan_with(
        'revenue:               {source: calls, cap: "1.5"}',
        'revenue: {source: calls, cap: "1.5", floor: "0.8"}',
    )
    data = month(
        calls("rep-1", "team-01", [date(2026, 10, 5)], revenue=799_950), targets("rep-1", revenue="10000.00")
    )
    (st,) = compute_month(plan, data, inputs(plan, rep("rep-1")))
    line, commission = kpi(st.parts[0], "revenue"), st.parts[0].commission
    assert line.attainment == commission.attainment == Decimal("0.7999")
    assert line.points == 0 and (commission.tier_from, commission.rate) == (Decimal(0), Decimal("0.015"))


@pytest.mark.parametrize(
    ("revenue", "rate"),
    [
        ("7999.99", "0.015"),
        ("8000.00", "0.02"),
        ("10000.00", "0.025"),
        ("12000.00", "0.03"),
        ("11999.99", "0.025"),
    ],
)
def test_revenue_on_a_tier_boundary_takes_the_higher_tier(revenue: str, rate: str) -> None:
    cents = int(Decimal(revenue) * 100)
    data = month(
        calls("rep-1", "team-01", [date(2026, 10, 5)], revenue=cents), targets("rep-1", revenue="10000.00")
    )
    (st,) = compute_month(PLAN, data, inputs(PLAN, rep("rep-1")))
    assert st.parts[0].commission.rate == Decimal(rate)
    assert st.commission == (Decimal(revenue) * Decimal(rate)).quantize(Decimal("0.01"))


def test_performance_pay_is_at_most_the_roles_amount_unless_the_plan_says_so() -> None:
    data = month(calls("rep-1", "team-01", workdays(1, 31), outbound_connects=30), targets("rep-1"))
    capped = rep_scored_on('{outbound_connects: "1"}')
    (st,) = compute_month(capped, data, inputs(capped, rep("rep-1")))
    assert st.parts[0].score == Decimal("1.2000") and st.performance == Decimal("2000.00")
    free = rep_scored_on('{outbound_connects: "1"}', "performance_may_exceed: true\n    ")
    (st,) = compute_month(free, data, inputs(free, rep("rep-1")))
    assert st.performance == Decimal("2400.00")


def test_a_promotion_on_the_15th_splits_base_performance_and_commission_by_days() -> None:
    """Issue 22: a rep who sold 30,000 before being promoted lost 900.00 of commission (the last
    day's role was taken for the whole month). Rep 1-14 October (10 working days), lead from the 15th."""
    person = "rep-021"
    data = month(calls(person, "team-03", [date(2026, 10, 5)], revenue=3_000_000), targets(person, "team-03"))
    roster = (f"{person},张伟,rep,,team-03,,2025-01-06,,", f"{person},,team_lead,2026-10-15,team-03,,,,")
    (st,) = compute_month(
        PLAN, data, inputs(PLAN, *roster, new_hire_pass_rate_csv=f"rep_id,actual\n{person},1\n")
    )
    as_rep, as_lead = st.parts
    assert (as_rep.role, as_rep.start, as_rep.end, as_rep.pay_days) == (
        "rep",
        date(2026, 10, 1),
        date(2026, 10, 14),
        10,
    )
    assert (as_lead.role, as_lead.start, as_lead.pay_days) == ("team_lead", date(2026, 10, 15), 12)
    assert as_rep.base == Decimal("1818.18") and as_lead.base == Decimal(
        "2727.27"
    )  # 4000 x 10/22, 5000 x 12/22
    # the rep's revenue target for 10 of 22 days is 22,727.27: 30,000 is 132 %, the 3 % tier
    assert as_rep.commission.target == Decimal("22727.27")
    assert (as_rep.commission.rate, as_rep.commission.amount) == (Decimal("0.03"), Decimal("900.00"))
    assert as_lead.commission.kind == "override" and as_lead.commission.revenue == 0


def test_per_person_and_acting_role_bases() -> None:
    roster = (
        rep("rep-008", base="4500.00"),
        "rep-041,刘洋,acting_regional_manager,,,west,2024-08-01,,",
    )
    out = by_person(compute_month(PLAN, month({}), inputs(PLAN, *roster)))
    assert out["rep-008"].base == Decimal("4500.00")
    assert out["rep-041"].base == Decimal("3000.00") and out["rep-041"].role == "acting_regional_manager"


def test_a_negative_total_is_warned() -> None:
    given = inputs(
        PLAN, rep("rep-1", hired="2026-10-30"), allowances_csv="rep_id,item,amount\nrep-1,uniform,-500.00\n"
    )
    (st,) = compute_month(PLAN, month({}), given)
    assert st.total == Decimal("-318.18")
    assert warnings([st])[0] == "rep-1 (rep-1): total -318.18 is negative (deductions exceed pay)"
    assert warnings([st])[1].startswith(
        "rep-1 (rep-1) as rep from 2026-10-30: not scored, no target or no figure"
    )


def test_adjustments_are_part_of_the_total() -> None:
    adjustments = {"rep-700": [AdjustmentLine("2026-09", Decimal("-12.34"), "late correction")]}
    (st,) = compute_month(PLAN, month({}), inputs(PLAN, rep("rep-700")), adjustments)
    assert st.adjustments_total == Decimal("-12.34") and st.total == Decimal("4000.00") - Decimal("12.34")


def test_attainment_and_tiers_in_isolation() -> None:
    assert attainment(Decimal(2), Decimal(3)) == Decimal("0.6666")  # cut, not rounded
    assert attainment(Decimal(10), Decimal(320)) == Decimal("0.0312")
    assert attainment(Decimal(2), Decimal(0)) is None and attainment(None, Decimal(1)) is None
    tiers = PLAN.doc.commission.tiers
    assert (tier_of(tiers, None).rate, tier_of(tiers, Decimal("0.7999")).rate) == (
        Decimal("0.015"),
        Decimal("0.015"),
    )
    assert tier_of(tiers, Decimal("0.8000")).rate == Decimal("0.02")


def test_a_rep_who_changed_team_counts_each_call_for_the_team_on_it() -> None:
    data = month(
        calls("rep-002", "team-01", workdays(1, 2), outbound_connects=2)
        | calls("rep-002", "team-02", workdays(5, 7), outbound_connects=2)
        | {("rep-012", "team-02", date(2026, 10, 5)): Activity({"outbound_connects": 1})}
    )
    roster = (
        rep("rep-002", "team-02"),
        rep("rep-012", "team-02"),
        "lead-1,A,team_lead,,team-01,,2024-01-01,,",
        "lead-2,B,team_lead,,team-02,,2024-01-01,,",
    )
    pass_rates = "rep_id,actual,target\nlead-1,1,1\nlead-2,1,1\n"
    out = by_person(compute_month(PLAN, data, inputs(PLAN, *roster, new_hire_pass_rate_csv=pass_rates)))
    assert kpi(out["rep-002"].parts[0], "outbound_connects").actual == 10
    assert kpi(out["lead-1"].parts[0], "outbound_connects").actual == 4
    assert kpi(out["lead-2"].parts[0], "outbound_connects").actual == 7


def test_on_the_example_floor_a_manager_on_target_out_earns_any_rep_on_target() -> None:
    """The seed: managers paid like their reps lose heart (严重影响电销经理的销售热情). Every rep of the
    example roster exactly on target; a lead and the regional manager on target earn more than a
    rep on target could with every award of the plan on top (the acting manager's west has no
    reps in the example, so it is not compared)."""
    from payroll.inputs import load_inputs
    from tests.unit.payroll_month import EXAMPLE_INPUTS

    roster = load_inputs(PLAN, EXAMPLE_INPUTS).roster
    october = workdays(1, 31)
    reps = [
        p
        for p in roster.people.values()
        if p.period_on(october[-1]) and p.period_on(october[-1]).role == "rep"
    ]
    days: dict = {}
    rows: list[tuple] = []
    for person in reps:
        team = person.periods[0].team
        days |= calls(
            person.id, team, october, outbound_connects=20, outbound_talk_seconds=3600, valid_connects=10
        )
        days[(person.id, team, october[0])].counters |= {"revenue": 5_000_000, "new_customers": 8, "sales": 1}
        days[(person.id, team, october[0])].list_cents, days[(person.id, team, october[0])].sold_cents = (
            100,
            95,
        )
        rows += [
            ("rep", person.id, team, "day", "connects", 20),
            ("rep", person.id, team, "day", "talk_seconds", 3600),
            ("rep", person.id, team, "day", "valid_connects", 10),
            ("rep", person.id, team, "month", "revenue", Decimal("50000.00")),
            ("rep", person.id, team, "month", "new_customers", 8),
        ]
    on_target = "rep_id,actual,target\n" + "".join(f"{p},1,1\n" for p in roster.people)
    given = inputs(
        PLAN,
        *(EXAMPLE_INPUTS / "roster.csv").read_text(encoding="utf-8").splitlines()[1:],
        collection_csv=on_target,
        new_product_sales_csv=on_target,
        new_hire_pass_rate_csv=on_target,
    )
    out = by_person(compute_month(PLAN, month(days, tuple(rows)), given))
    assert {out[p.id].parts[0].score for p in reps} == {Decimal("1.0000")}
    every_award = sum((award.amounts[0] for award in PLAN.doc.awards), Decimal(0))
    best_rep = max(out[p.id].total - out[p.id].awards_total for p in reps) + every_award
    assert best_rep == Decimal("10150.00")  # rep-008's own base 4,500 + 2,000 + 1,250 + 2,400 of awards
    for manager in ("rep-001", "rep-011", "rep-031"):
        st = out[manager]
        assert st.parts[0].score == Decimal("1.0000") and st.parts[0].commission.attainment == 1, manager
        assert st.total > best_rep, (manager, st.total)
    assert (out["rep-001"].total, out["rep-031"].total) == (Decimal("10300.00"), Decimal("10400.00"))
