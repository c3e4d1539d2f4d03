"""Each rep's commission tier on the board, decided as payroll decides it (the plan's own
loader, attainment cut to 4 places, ``tier_of``): boundary inclusive, what is left rounded up
to the cent, no tiers without a revenue target or when the plan pays reps no commission."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from payroll.plan import PayPlanError, parse_plan
from wallboard.tiers import PlanWatcher, tier_progress

PLAN = b"""plan: t
version: 1
roster: {file: roster.csv}
kpis: {revenue: {source: calls}}
roles:
  rep: {base: "3000.00", performance: "1000.00", weights: {revenue: "1"}}
  team_lead: {base: "5000.00", performance: "1000.00", weights: {revenue: "1"}}
commission:
  roles: [rep]
  tiers:
    - {from: "0", rate: "0.015"}
    - {from: "0.8", rate: "0.02"}
    - {from: "1.0", rate: "0.025"}
    - {from: "1.2", rate: "0.03"}
"""
DAY = date(2026, 12, 6)
TARGET = Decimal("10000.00")


@pytest.mark.parametrize(("cents", "shown"), [
    (0, ("0.015", "0.02", "8000.00")),
    (766_000, ("0.015", "0.02", "340.00")),
    (799_999, ("0.015", "0.02", "0.01")),  # 7,999.99 of 10,000 is under 80 %
    (800_000, ("0.02", "0.025", "2000.00")),  # the boundary is in the higher tier
    (976_000, ("0.02", "0.025", "240.00")),
    (1_200_000, ("0.03", None, None)),  # the top tier: nothing further to reach
])  # fmt: skip
def test_tier_reached_and_what_is_left(cents: int, shown: tuple) -> None:
    plan = parse_plan(PLAN, "plan.yaml")
    got = tier_progress(plan, cents, TARGET)
    assert got is not None and (got["rate"], got["next_rate"], got["to_next"]) == shown


def test_what_is_left_is_rounded_up_to_the_cent() -> None:
    got = tier_progress(parse_plan(PLAN, "plan.yaml"), 0, Decimal("333.33"))
    assert got is not None and got["to_next"] == "266.67"  # 0.8 x 333.33 = 266.664


def test_no_tiers_without_a_target_or_commission() -> None:
    plan = parse_plan(PLAN, "plan.yaml")
    assert tier_progress(plan, 5000, None) is None
    assert tier_progress(plan, 5000, Decimal(0)) is None
    leads_only = parse_plan(PLAN.replace(b"roles: [rep]", b"roles: [team_lead]"), "plan.yaml")
    assert tier_progress(leads_only, 5000, TARGET) is None  # the plan pays reps no commission
    no_commission = parse_plan(PLAN.split(b"commission:")[0], "plan.yaml")
    assert tier_progress(no_commission, 5000, TARGET) is None


def test_a_bad_plan_names_its_line_and_a_later_bad_edit_keeps_the_plan(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(PLAN.replace(b'rate: "0.02"', b'rate: "two"'))
    with pytest.raises(PayPlanError, match=r"plan.yaml line \d+"):
        PlanWatcher(path)
    path.write_bytes(PLAN)
    watcher = PlanWatcher(path)
    assert watcher.plan is not None and not watcher.check()
    path.write_bytes(PLAN + b"bogus: 1\n")
    assert not watcher.check() and watcher.plan.doc.plan == "t"
    path.write_bytes(PLAN.replace(b"plan: t", b"plan: t2"))
    assert watcher.check() and watcher.plan.doc.plan == "t2"
