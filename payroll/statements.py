"""A pay run as data: header, one statement per person, summaries per team, region and floor.

Every output format (csv, json, html) is rendered from :func:`run_document`, so they can
never disagree. Nothing here reads a clock: the only time in the output is the data cut-off,
which is why the same data, plan and inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, overload

from payroll.compute import ROUNDING_RULE, ZERO, Part, Statement, cents
from payroll.inputs import Inputs
from payroll.plan import PayPlan
from schemas.kpis import KPI
from schemas.pay_month import MonthData


@dataclass(frozen=True)
class PayRun:
    plan: PayPlan
    data: MonthData
    inputs: Inputs
    statements: list[Statement]
    estimate: bool = False  # the month has not ended: the figures are month to date, not pay


@overload
def text(value: Decimal) -> str: ...
@overload
def text(value: None) -> None: ...
@overload
def text(value: Decimal | None) -> str | None: ...
def text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


ESTIMATE = "estimate 估算: month not closed, figures to the data cut-off, not pay"


def header(run: PayRun) -> dict[str, Any]:
    return {
        "month": run.data.month.strftime("%Y-%m"),
        "status": "estimate" if run.estimate else "statement",
        "estimate_note": ESTIMATE if run.estimate else "",
        "plan": run.plan.doc.plan,
        "plan_version": run.plan.doc.version,
        "plan_sha256": run.plan.sha256,
        "targets_version": run.data.targets_version or "",
        "cutoff": run.data.cutoff,
        "currency": run.plan.doc.currency,
        "rounding": ROUNDING_RULE,
        "pay_days": run.plan.doc.roster.pay_days.value,
        "inputs": run.inputs.files,
    }


def warnings(statements: Iterable[Statement]) -> list[str]:
    """What a clerk must look at before paying: a negative total (deductions over pay), and KPIs
    not scored for want of a target or a figure (their weight went to the person's other KPIs)."""
    out = []
    for st in statements:
        if st.total < 0:
            out.append(f"{st.person} ({st.name}): total {text(st.total)} is negative (deductions exceed pay)")
        for part in st.parts:
            unscored = [line.name for line in part.kpis if line.points is None]
            if unscored:
                out.append(
                    f"{st.person} ({st.name}) as {part.role.value} from {part.start}: not scored, no target "
                    f"or no figure: {', '.join(unscored)} (their weight went to the other KPIs)"
                )
    return out


def _part_dict(part: Part) -> dict[str, Any]:
    c = part.commission
    return {
        "role": part.role.value,
        "team": part.team,
        "region": part.region,
        "from": part.start.isoformat(),
        "to": part.end.isoformat(),
        "pay_days": part.pay_days,
        "month_pay_days": part.month_pay_days,
        "base_full": text(part.base_full),
        "base": text(part.base),
        "kpis": [
            {
                "name": k.name,
                "actual": text(k.actual),
                "target": text(k.target),
                "attainment": text(k.attainment),
                "weight": text(k.weight),
                "points": text(k.points),
            }
            for k in part.kpis
        ],
        "score": text(part.score),
        "floor_met": part.floor_met,
        "performance_max": text(part.performance_max),
        "performance": text(part.performance),
        "commission": None
        if c is None
        else {
            "kind": c.kind,
            "revenue": text(c.revenue),
            "target": text(c.target),
            "attainment": text(c.attainment),
            "tier_from": text(c.tier_from),
            "rate": text(c.rate),
            "amount": text(c.amount),
        },
    }


def statement_dict(st: Statement) -> dict[str, Any]:
    return {
        "person": st.person,
        "name": st.name,
        "role": st.role.value,
        "team": st.team,
        "region": st.region,
        "hired": st.hired.isoformat(),
        "left": st.left.isoformat() if st.left else None,
        "parts": [_part_dict(part) for part in st.parts],
        "base": text(st.base),
        "performance": text(st.performance),
        "commission": text(st.commission),
        "awards": [
            {
                "award": a.award,
                "name": a.name,
                "by": a.by,
                "group": a.group,
                "value": text(a.value),
                "rank": a.rank,
                "tied": a.tied,
                "amount": text(a.amount),
            }
            for a in st.awards
        ],
        "awards_total": text(st.awards_total),
        "allowances": [{"item": a.item, "amount": text(a.amount)} for a in st.allowances],
        "allowances_total": text(st.allowances_total),
        "adjustments": [
            {"month": a.month, "amount": text(a.amount), "reason": a.reason} for a in st.adjustments
        ],
        "adjustments_total": text(st.adjustments_total),
        "total": text(st.total),
    }


def _pay_sums(statements: Iterable[Statement]) -> dict[str, Any]:
    rows = list(statements)

    def total(pick: Callable[[Statement], Decimal]) -> str:
        return text(cents(sum((pick(st) for st in rows), ZERO)))

    return {
        "people": len(rows),
        "base": total(lambda st: st.base),
        "performance": total(lambda st: st.performance),
        "commission": total(lambda st: st.commission),
        "awards": total(lambda st: st.awards_total),
        "allowances": total(lambda st: st.allowances_total),
        "adjustments": total(lambda st: st.adjustments_total),
        "total": total(lambda st: st.total),
    }


def _call_sums(data: MonthData, teams: set[str] | None) -> dict[str, Any]:
    """KPI counters of the calls attributed to these teams (the team on each call); None: all."""
    sums: dict[str, int] = {}
    for (_rep, team), act in sorted(data.activity.items()):
        if teams is None or team in teams:
            for name, value in act.counters.items():
                sums[name] = sums.get(name, 0) + value
    return {name: KPI[name].reported(value) for name, value in sums.items()}


def summaries(run: PayRun) -> dict[str, Any]:
    """Per team, per region and for the floor: pay of the people listed there and their calls."""
    teams = sorted({st.team for st in run.statements} | {team for _, team in run.data.activity})
    regions = sorted({st.region for st in run.statements if st.region} | set(run.plan.doc.regions))
    return {
        "teams": [
            {
                "team": team,
                **_pay_sums(st for st in run.statements if st.team == team),
                "calls": _call_sums(run.data, {team}),
            }
            for team in teams
        ],
        "regions": [
            {
                "region": region,
                **_pay_sums(st for st in run.statements if st.region == region),
                "calls": _call_sums(run.data, set(run.plan.doc.regions.get(region, []))),
            }
            for region in regions
        ],
        "floor": {**_pay_sums(run.statements), "calls": _call_sums(run.data, None)},
    }


def run_document(run: PayRun) -> dict[str, Any]:
    return {
        **header(run),
        "warnings": warnings(run.statements),
        "statements": [statement_dict(st) for st in run.statements],
        "summaries": summaries(run),
    }


def kpi_names(plan: PayPlan) -> list[str]:
    """Every KPI some role is scored on, in the plan's order (the CSV's columns)."""
    used = {name for pay in plan.doc.roles.values() for name in pay.weights}
    return [name for name in plan.doc.kpis if name in used]


META = ("month", "status", "estimate_note", "plan", "plan_version", "targets_version", "cutoff")


def statement_rows(doc: dict[str, Any], kpis: list[str]) -> list[dict[str, Any]]:
    """One flat row per part (a person's days in one role) for the CSV, the header's fields on
    every row; awards, allowances, adjustments and the person's total on their last row, so the
    ``total`` column sums to the floor's total."""
    meta = {k: doc.get(k, "") for k in META}
    rows = []
    for st in doc["statements"]:
        parts = st["parts"] or [None]
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            p = part or {}
            row = {**meta, **{k: st[k] for k in ("person", "name")}}
            row |= {
                k: p.get(k) for k in ("role", "team", "region", "from", "to", "pay_days", "month_pay_days")
            }
            row["base"] = p.get("base")
            by_name = {k["name"]: k for k in p.get("kpis", [])}
            for name in kpis:
                line = by_name.get(name, {})
                for what in ("actual", "target", "attainment", "weight", "points"):
                    row[f"{name}_{what}"] = line.get(what)
            commission = p.get("commission") or {}
            part_total = sum(
                (Decimal(x) for x in (p.get("base"), p.get("performance"), commission.get("amount")) if x),
                ZERO,
            )
            extra = ("awards_total", "allowances_total", "adjustments_total")
            row |= {
                "score": p.get("score"),
                "floor_met": p.get("floor_met"),
                "performance": p.get("performance"),
                "commission_kind": commission.get("kind"),
                "commission_revenue": commission.get("revenue"),
                "commission_rate": commission.get("rate"),
                "commission": commission.get("amount"),
                "awards": ", ".join(f"{a['name']} #{a['rank']}" for a in st["awards"]) if last else "",
                **{k.removesuffix("_total"): st[k] if last else "0.00" for k in extra},
                "total": text(
                    part_total + sum((Decimal(st[k]) for k in extra), ZERO) if last else part_total
                ),
                "person_total": st["total"] if last else "",
            }
            rows.append(row)
    return rows


def summary_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    meta = {k: doc.get(k, "") for k in META}
    out = []
    sums = doc["summaries"]
    levels = (
        [("team", s["team"], s) for s in sums["teams"]]
        + [("region", s["region"], s) for s in sums["regions"]]
        + [("floor", "", sums["floor"])]
    )
    for level, key, s in levels:
        pay = {k: v for k, v in s.items() if k not in ("team", "region", "calls")}
        out.append({**meta, "level": level, "id": key, **pay, **s["calls"]})
    return out
