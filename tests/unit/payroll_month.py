"""Hand-built months for the payroll unit tests: a plan, a roster and calls per day, no services."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from payroll.inputs import Inputs, parse_inputs
from payroll.plan import PayPlan, load_plan, parse_plan
from schemas.pay_month import Activity, MonthData

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "payroll.example.yaml"
EXAMPLE_INPUTS = EXAMPLE.parent / "payroll-inputs.example"
PLAN = load_plan(EXAMPLE)
TEXT = EXAMPLE.read_text(encoding="utf-8")
OCTOBER = date(2026, 10, 1)
ROSTER_HEADER = "person_id,name,role,from,team,region,hired,left,base\n"


def plan_with(old: str, new: str) -> PayPlan:
    """The example plan with one edit (the edit must apply)."""
    assert old in TEXT, old
    return parse_plan(TEXT.replace(old, new, 1).encode(), "plan.yaml")


def inputs(plan: PayPlan, *roster_rows: str, **files: str) -> Inputs:
    """Inputs with this roster (rows after the header) and these files; every other file the
    plan names is given with its header only."""
    texts = {"roster.csv": ROSTER_HEADER + "".join(row + "\n" for row in roster_rows)}
    for spec in plan.doc.kpis.values():
        if spec.file:
            texts.setdefault(spec.file, "rep_id,actual,target\n")
    if plan.doc.allowances:
        texts[plan.doc.allowances.file] = "rep_id,item,amount\n"
    texts |= {name.replace("_csv", ".csv"): text for name, text in files.items()}
    return parse_inputs(plan, texts)


def rep(person: str, team: str = "team-01", hired: str = "2025-01-01", left: str = "", base: str = "") -> str:
    return f"{person},{person},rep,,{team},,{hired},{left},{base}"


def workdays(first: int, last: int, month: date = OCTOBER) -> list[date]:
    """Monday-to-Friday days from day ``first`` to day ``last`` of the month."""
    days = [month.replace(day=first) + timedelta(days=i) for i in range(last - first + 1)]
    return [d for d in days if d.weekday() < 5]


def calls(person: str, team: str, days: list[date], **per_day: int) -> dict:
    """The same counters on each of ``days`` (revenue in cents)."""
    return {(person, team, day): Activity(dict(per_day)) for day in days}


def month(days: dict, targets: tuple = (), first: date = OCTOBER, version: str | None = "v1") -> MonthData:
    return MonthData(first, "2026-11-01T00:00:00.000Z", days, version, targets)


def targets(person: str, team: str = "team-01", connects: int = 20, revenue: str = "50000.00") -> tuple:
    return (
        ("rep", person, team, "day", "connects", connects),
        ("rep", person, team, "month", "revenue", Decimal(revenue)),
    )


def kpi(part, name: str):  # noqa: ANN001, ANN201 - a KpiLine of a Part
    return next(line for line in part.kpis if line.name == name)


def rep_scored_on(weights: str, extra: str = "") -> PayPlan:
    """The example plan with the rep's weights replaced by ``weights`` (a YAML mapping), and
    ``extra`` lines (indented) written before them."""
    start = TEXT.index("weights: {outbound_connects", TEXT.index("  rep:\n"))
    end = TEXT.index("}", start) + 1
    return parse_plan((TEXT[:start] + extra + "weights: " + weights + TEXT[end:]).encode(), "plan.yaml")
