"""The pay rules, on hand-built months: no services, every edge case of the issue."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from payroll.compute import AdjustmentLine, attainment, commission_tier, competition_ranks, compute_month
from payroll.inputs import Inputs, parse_inputs
from payroll.plan import load_plan, parse_plan
from schemas.pay_month import Activity, MonthData

PLAN = load_plan(Path(__file__).resolve().parents[2] / "deploy" / "payroll.example.yaml")


def act(connects: int = 0, revenue_cents: int = 0, **more: int) -> Activity:
    return Activity({"connects": connects, "revenue": revenue_cents, **more})


def month(
    activity: dict, targets: tuple = (), days: dict | None = None, last_team: dict | None = None
) -> MonthData:
    reps = {rep for rep, _ in activity}
    return MonthData(
        month=date(2026, 10, 1),
        cutoff="2026-11-01T00:00:00.000Z",
        activity=activity,
        rep_days=days or dict.fromkeys(reps, 20),
        team_days=dict.fromkeys({team for _, team in activity}, 20),
        last_team=last_team or {rep: team for rep, team in activity},
        targets_version="v1",
        targets=targets,
    )


def rep_targets(rep: str, team: str, connects: int = 5, revenue: str = "10000.00") -> tuple:
    return (
        ("rep", rep, team, "day", "connects", connects),
        ("rep", rep, team, "month", "revenue", Decimal(revenue)),
    )


def by_person(statements: list) -> dict:
    return {st.person: st for st in statements}


def test_every_total_is_its_parts_to_the_cent() -> None:
    data = month(
        {("rep-100", "team-09"): act(connects=77, revenue_cents=1_234_567)},
        rep_targets("rep-100", "team-09", connects=3, revenue="9999.99"),
    )
    inputs = parse_inputs(
        PLAN, {"allowances.csv": "rep_id,item,amount\nrep-100,meal,300.05\nrep-100,late,-0.10\n"}
    )
    (st,) = [s for s in compute_month(PLAN, data, inputs) if s.person == "rep-100"]
    parts = st.base + st.performance + st.commission.amount + (st.bonus.amount if st.bonus else 0)
    assert st.total == parts + Decimal("299.95")
    assert all(x == x.quantize(Decimal("0.01")) for x in (st.total, st.performance, st.commission.amount))


def test_a_rep_with_no_calls_gets_base_and_no_performance_pay() -> None:
    (st,) = [
        s
        for s in compute_month(PLAN, month({}, rep_targets("rep-200", "team-01")), Inputs())
        if s.person == "rep-200"
    ]
    assert st.base == Decimal("4000.00") and st.performance == 0 and st.commission.amount == 0
    assert st.total == Decimal("4000.00") and st.team == "team-01" and st.bonus is None


def test_a_target_of_zero_is_not_applicable_and_its_weight_goes_to_the_others() -> None:
    data = month(
        {("rep-300", "t"): act(connects=50, revenue_cents=1_000_000)},
        rep_targets("rep-300", "t", connects=0, revenue="10000.00"),
    )
    st = by_person(compute_month(PLAN, data, Inputs()))["rep-300"]
    connects = next(k for k in st.kpis if k.name == "connects")
    assert connects.target == 0 and connects.attainment is None and connects.points is None
    revenue = next(k for k in st.kpis if k.name == "revenue")
    assert revenue.attainment == 1 and revenue.points == Decimal("0.2500")
    assert st.score == Decimal("1.0000")  # the only applicable KPI, at 100 %, rescaled to the whole


def test_a_score_under_the_floor_pays_no_performance() -> None:
    data = month(
        {("rep-400", "t"): act(connects=10, revenue_cents=100_000)},
        rep_targets("rep-400", "t", connects=5, revenue="10000.00"),
    )
    st = by_person(compute_month(PLAN, data, Inputs()))["rep-400"]
    assert st.score < PLAN.doc.score_floor and not st.floor_met and st.performance == 0


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
        {("rep-500", "t"): act(revenue_cents=cents)}, rep_targets("rep-500", "t", revenue="10000.00")
    )
    st = by_person(compute_month(PLAN, data, Inputs()))["rep-500"]
    assert st.commission.rate == Decimal(rate)
    assert st.commission.amount == (Decimal(revenue) * Decimal(rate)).quantize(Decimal("0.01"))


def test_a_tie_for_first_shares_the_place_and_skips_the_next() -> None:
    assert competition_ranks({"a": Decimal(5), "b": Decimal(5), "c": Decimal(3), "d": Decimal(0)}) == {
        "a": 1,
        "b": 1,
        "c": 3,
    }
    data = month(
        {
            ("rep-601", "t"): act(revenue_cents=900_000),
            ("rep-602", "t"): act(revenue_cents=900_000),
            ("rep-603", "t"): act(revenue_cents=100_000),
            ("rep-604", "u"): act(revenue_cents=1),
        }
    )
    out = by_person(compute_month(PLAN, data, Inputs()))
    assert (out["rep-601"].bonus.rank, out["rep-602"].bonus.rank, out["rep-603"].bonus.rank) == (1, 1, 3)
    assert out["rep-601"].bonus.amount == out["rep-602"].bonus.amount == Decimal("800.00")
    assert out["rep-603"].bonus.amount == Decimal("300.00")
    assert out["rep-604"].bonus.rank == 1  # its own team


def test_a_rep_who_changed_team_counts_each_call_for_the_team_on_it() -> None:
    """rep-002 dialed for team-01, then team-02: it is listed in team-02 (its last call), its own
    KPIs count every call, and each team lead's KPIs count only the calls carrying their team."""
    data = month(
        {
            ("rep-002", "team-01"): act(connects=4),
            ("rep-002", "team-02"): act(connects=6),
            ("rep-012", "team-02"): act(connects=1),
        },
        last_team={"rep-002": "team-02", "rep-012": "team-02"},
    )
    out = by_person(compute_month(PLAN, data, Inputs()))
    assert out["rep-002"].team == "team-02"
    assert next(k for k in out["rep-002"].kpis if k.name == "connects").actual == 10
    assert next(k for k in out["rep-001"].kpis if k.name == "connects").actual == 4  # lead of team-01
    assert next(k for k in out["rep-011"].kpis if k.name == "connects").actual == 7  # lead of team-02
    assert next(k for k in out["rep-031"].kpis if k.name == "revenue").actual == 0  # east: no revenue


def test_a_role_change_takes_the_role_in_force_on_the_last_day() -> None:
    plan = PLAN
    assert plan.period_on("rep-021", date(2026, 10, 31)).role == "rep"
    assert plan.period_on("rep-021", date(2026, 11, 30)).role == "team_lead"
    november = MonthData(
        date(2026, 11, 1),
        "",
        {("rep-021", "team-03"): act(connects=3)},
        {"rep-021": 2},
        {"team-03": 2},
        {"rep-021": "team-03"},
        None,
    )
    st = by_person(compute_month(plan, november, Inputs()))["rep-021"]
    assert st.role == "team_lead" and st.commission is None and st.name == "张伟"


def test_adjustments_are_part_of_the_total() -> None:
    adjustments = {"rep-700": [AdjustmentLine("2026-09", Decimal("-12.34"), "late correction")]}
    (st,) = [
        s
        for s in compute_month(PLAN, month({("rep-700", "t"): act()}), Inputs(), adjustments)
        if s.person == "rep-700"
    ]
    assert st.adjustments_total == Decimal("-12.34") and st.total == Decimal("4000.00") - Decimal("12.34")


def test_attainment_and_tiers_in_isolation() -> None:
    assert attainment(Decimal(2), Decimal(3)) == Decimal("0.6667")
    assert attainment(Decimal(2), Decimal(0)) is None and attainment(None, Decimal(1)) is None
    assert commission_tier(PLAN, Decimal(5), None) == (Decimal(0), Decimal("0.015"))
    assert commission_tier(PLAN, Decimal(5), Decimal(0)) == (Decimal(0), Decimal("0.015"))


def test_csv_kpi_inputs_score_with_their_own_targets() -> None:
    plan = parse_plan(Path(PLAN.source).read_bytes(), "plan.yaml")
    inputs = parse_inputs(plan, {"collection.csv": "rep_id,actual,target\nrep-800,60,50\n"})
    st = by_person(compute_month(plan, month({("rep-800", "t"): act()}), inputs))["rep-800"]
    collection = next(k for k in st.kpis if k.name == "collection")
    assert collection.attainment == Decimal("1.2000") and collection.points == Decimal("0.1200")
