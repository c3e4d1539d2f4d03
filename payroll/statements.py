"""A pay run as data: header, one statement per person, summaries per team, region and floor.

Every output format (csv, json, html) is rendered from :func:`run_document`, so they can
never disagree. Nothing here reads a clock: the only time in the output is the data cut-off,
which is why the same data, plan and inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from payroll.compute import ROUNDING_RULE, ZERO, MonthData, Statement, cents
from payroll.inputs import Inputs
from payroll.plan import PayPlan
from schemas.kpis import KPI


@dataclass(frozen=True)
class PayRun:
    plan: PayPlan
    data: MonthData
    inputs: Inputs
    statements: list[Statement]


def text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def header(run: PayRun) -> dict[str, Any]:
    return {
        "month": run.data.month.strftime("%Y-%m"),
        "plan": run.plan.doc.plan,
        "plan_version": run.plan.doc.version,
        "plan_sha256": run.plan.sha256,
        "targets_version": run.data.targets_version or "",
        "cutoff": run.data.cutoff,
        "currency": run.plan.doc.currency,
        "rounding": ROUNDING_RULE,
        "inputs": run.inputs.files,
    }


def statement_dict(st: Statement) -> dict[str, Any]:
    commission = st.commission
    return {
        "person": st.person,
        "name": st.name,
        "role": st.role.value,
        "team": st.team,
        "region": st.region,
        "base": text(st.base),
        "kpis": [
            {
                "name": k.name,
                "actual": text(k.actual),
                "target": text(k.target),
                "attainment": text(k.attainment),
                "weight": text(k.weight),
                "points": text(k.points),
            }
            for k in st.kpis
        ],
        "score": text(st.score),
        "floor_met": st.floor_met,
        "performance_max": text(st.performance_max),
        "performance": text(st.performance),
        "commission": None
        if commission is None
        else {
            "revenue": text(commission.revenue),
            "attainment": text(commission.attainment),
            "tier_from": text(commission.tier_from),
            "rate": text(commission.rate),
            "amount": text(commission.amount),
        },
        "bonus": None
        if st.bonus is None
        else {
            "by": st.bonus.by,
            "group": st.bonus.group,
            "value": text(st.bonus.value),
            "rank": st.bonus.rank,
            "amount": text(st.bonus.amount),
        },
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
        "commission": total(lambda st: st.commission.amount if st.commission else ZERO),
        "bonus": total(lambda st: st.bonus.amount if st.bonus else ZERO),
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
        "statements": [statement_dict(st) for st in run.statements],
        "summaries": summaries(run),
    }


def kpi_names(plan: PayPlan) -> list[str]:
    """Every KPI some role is scored on, in the plan's order (the CSV's columns)."""
    used = {name for pay in plan.doc.roles.values() for name in pay.weights}
    return [name for name in plan.doc.kpis if name in used]


def statement_rows(doc: dict[str, Any], kpis: list[str]) -> list[dict[str, Any]]:
    """One flat row per person for the CSV: the header's fields repeated on every row."""
    meta = {k: doc[k] for k in ("month", "plan", "plan_version", "targets_version", "cutoff")}
    rows = []
    for st in doc["statements"]:
        row = {**meta, **{k: st[k] for k in ("person", "name", "role", "team", "region", "base")}}
        by_name = {k["name"]: k for k in st["kpis"]}
        for name in kpis:
            line = by_name.get(name, {})
            for part in ("actual", "target", "attainment", "weight", "points"):
                row[f"{name}_{part}"] = line.get(part)
        commission, bonus = st["commission"] or {}, st["bonus"] or {}
        row |= {
            "score": st["score"],
            "floor_met": st["floor_met"],
            "performance": st["performance"],
            "commission_revenue": commission.get("revenue"),
            "commission_rate": commission.get("rate"),
            "commission": commission.get("amount"),
            "bonus_rank": bonus.get("rank"),
            "bonus": bonus.get("amount"),
            "allowances": st["allowances_total"],
            "adjustments": st["adjustments_total"],
            "total": st["total"],
        }
        rows.append(row)
    return rows


def summary_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    meta = {k: doc[k] for k in ("month", "plan", "plan_version", "targets_version", "cutoff")}
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
