"""Printable pay statements: one A4 page per person, English or Chinese, no external resources.

Every value from data or inputs goes through ``html.escape``: names, teams and allowance
items are typed by people and must never become markup.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from html import escape
from typing import Any

LABELS = {
    "en": {
        "title": "Pay statement",
        "month": "Month",
        "person": "Person",
        "role": "Role",
        "team": "Team",
        "region": "Region",
        "plan": "Plan",
        "targets": "Targets version",
        "cutoff": "Data cut-off",
        "kpi": "KPI",
        "actual": "Actual",
        "target": "Target",
        "attainment": "Attainment",
        "weight": "Weight",
        "points": "Points",
        "score": "Score",
        "floor": "below the score floor: no performance pay",
        "base": "Base pay",
        "performance": "Performance pay",
        "commission": "Commission",
        "bonus": "Award",
        "rank": "place",
        "override": "Override",
        "days": "pay days",
        "from": "from",
        "to": "to",
        "estimate": "ESTIMATE 估算: month not closed, figures to the data cut-off, not pay",
        "capped": "paid at most the performance amount",
        "hired": "Hired",
        "left": "Left",
        "acting_regional_manager": "Acting regional manager",
        "allowances": "Allowances and deductions",
        "adjustments": "Adjustments for closed months",
        "total": "Total",
        "na": "n/a",
        "rounding": "Rounding",
        "summary": "Summary",
        "people": "People",
        "rep": "Rep",
        "team_lead": "Team lead",
        "regional_manager": "Regional manager",
        "of": "of",
        "tier": "tier from",
        "nothing": "none",
    },
    "zh": {
        "title": "工资单",
        "month": "月份",
        "person": "员工",
        "role": "岗位",
        "team": "团队",
        "region": "大区",
        "plan": "薪酬方案",
        "targets": "目标版本",
        "cutoff": "数据截止",
        "kpi": "考核指标",
        "actual": "实际",
        "target": "目标",
        "attainment": "完成率",
        "weight": "权重",
        "points": "得分",
        "score": "绩效分",
        "floor": "低于绩效分下限：不发绩效工资",
        "base": "基本工资",
        "performance": "绩效工资",
        "commission": "提成",
        "bonus": "奖项",
        "rank": "名次",
        "override": "管理提成",
        "days": "计薪天数",
        "from": "自",
        "to": "至",
        "estimate": "估算 estimate：本月未结，数据截至截止时间，并非实发工资",
        "capped": "绩效工资以绩效额为上限",
        "hired": "入职",
        "left": "离职",
        "acting_regional_manager": "代区域经理",
        "allowances": "补贴与扣款",
        "adjustments": "已结月份调整",
        "total": "合计",
        "na": "不适用",
        "rounding": "舍入规则",
        "summary": "汇总",
        "people": "人数",
        "rep": "销售代表",
        "team_lead": "组长",
        "regional_manager": "区域经理",
        "of": "共",
        "tier": "档位起点",
        "nothing": "无",
        "rounding_rule": (
            "比率截取（不进位）4位小数，下限、上限、档位和名次均按显示的数值判定；"
            "每笔金额四舍五入到分；合计为各项之和"
        ),
    },
}
Line = tuple[str, str]  # a statement's pay line: (label, amount)
KPI_NAMES_ZH = {
    "connects": "接通数量（含呼入）",
    "talk_seconds": "通话时间（秒，含呼入）",
    "outbound_connects": "呼出接通数量",
    "outbound_talk_seconds": "呼出接通时间（秒）",
    "valid_connects": "有效通话",
    "revenue": "销售额完成",
    "new_customers": "新客户",
    "price_control": "价格控制",
    "collection": "回款",
    "new_product_sales": "新产品销售",
    "new_hire_pass_rate": "新人通过率",
    "sales": "成交数",
    "dials": "外呼数",
}
BAR_SCALE = Decimal("1.5")  # a bar's full width is 150 % attainment

CSS = """
@page { size: A4; margin: 14mm; }
body { font-family: "Noto Sans CJK SC", "Noto Sans", "DejaVu Sans", sans-serif;
  font-size: 10pt; color: #111; }
.statement { break-after: page; page-break-after: always; }
h1 { font-size: 15pt; margin: 0 0 4pt; } h2 { font-size: 11pt; margin: 10pt 0 4pt; }
table { border-collapse: collapse; width: 100%; }
td, th { padding: 2pt 4pt; border-bottom: 0.5pt solid #bbb; }
th { text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.meta td { border: none; padding: 0 4pt 0 0; color: #444; }
.bar { position: relative; width: 34mm; height: 8pt; background: #eee; }
.bar span { position: absolute; left: 0; top: 0; bottom: 0; background: #3a7; }
.bar span.low { background: #d84; } .bar i { position: absolute; top: -1pt; bottom: -1pt;
  left: 66.67%; border-left: 1pt solid #000; }
.total td { font-weight: bold; border-top: 1pt solid #000; } .note { color: #a30; }
.estimate { border: 2pt solid #a30; color: #a30; font-weight: bold; padding: 4pt; margin: 0 0 6pt; }
"""


def _bar(attainment: str | None) -> str:
    if attainment is None:
        return ""
    value = Decimal(attainment)
    width = min(value, BAR_SCALE) / BAR_SCALE * 100
    low = ' class="low"' if value < 1 else ""
    return f'<div class="bar"><span{low} style="width:{width:.1f}%"></span><i></i></div>'


def _pct(value: str | None, na: str) -> str:
    return na if value is None else f"{Decimal(value) * 100:.2f}%"


def _part(doc: dict[str, Any], part: dict[str, Any], t: dict[str, str], lang: str) -> tuple[str, list[Line]]:
    """One role's days: its KPI table (HTML) and its pay lines (label, amount)."""
    e, na = escape, t["na"]
    kpi_label: Callable[[str], str] = (
        (lambda n: KPI_NAMES_ZH.get(n, n)) if lang == "zh" else (lambda n: n.replace("_", " "))
    )
    rows = "".join(
        f"<tr><td>{e(kpi_label(k['name']))}</td><td class=n>{e(k['actual'] or na)}</td>"
        f"<td class=n>{e(k['target'] or na)}</td><td class=n>{_pct(k['attainment'], na)}</td>"
        f"<td>{_bar(k['attainment'])}</td><td class=n>{e(k['weight'])}</td>"
        f"<td class=n>{e(k['points'] or na)}</td></tr>"
        for k in part["kpis"]
    )
    role = t.get(part["role"], part["role"])
    days = f"{part['pay_days']}/{part['month_pay_days']} {t['days']}"
    where = part["team"] or part["region"] or na
    title = f"{role} · {where} · {t['from']} {part['from']} {t['to']} {part['to']} ({days})"
    pay = [
        (f"{t['base']} ({part['base_full']} × {days})", part["base"]),
        (f"{t['performance']} ({part['performance_max']} × {part['score']} × {days})", part["performance"]),
    ]
    if part["commission"]:
        c = part["commission"]
        label = t["override"] if c["kind"] == "override" else t["commission"]
        pay.append(
            (
                f"{label} ({c['revenue']} × {Decimal(c['rate']) * 100:.2f}%, {t['attainment']} "
                f"{_pct(c['attainment'], na)}, {t['tier']} {_pct(c['tier_from'], na)})",
                c["amount"],
            )
        )
    floor = "" if part["floor_met"] else f'<p class="note">{e(t["floor"])}</p>'
    html = f"""<h2>{e(title)} · {e(t["score"])}: {e(part["score"])}</h2>
<table><tr><th>{e(t["kpi"])}</th><th>{e(t["actual"])}</th><th>{e(t["target"])}</th>
<th>{e(t["attainment"])}</th><th></th><th>{e(t["weight"])}</th><th>{e(t["points"])}</th></tr>{rows}</table>
{floor}"""
    return html, pay


def _statement(doc: dict[str, Any], st: dict[str, Any], t: dict[str, str], lang: str) -> str:
    e, na = escape, t["na"]
    sections, pay = [], []
    for part in st["parts"]:
        html, lines = _part(doc, part, t, lang)
        sections.append(html)
        pay += lines
    pay += [
        (f"{t['bonus']}: {a['name']} ({t['rank']} {a['rank']}, {a['group']})", a["amount"])
        for a in st["awards"]
    ]
    pay += [(f"{t['allowances']}: {a['item']}", a["amount"]) for a in st["allowances"]]
    pay += [(f"{t['adjustments']} {a['month']}: {a['reason']}", a["amount"]) for a in st["adjustments"]]
    pay_rows = "".join(f"<tr><td>{e(label)}</td><td class=n>{e(amount)}</td></tr>" for label, amount in pay)
    role = t.get(st["role"], st["role"])
    return f"""<section class="statement">
{_estimate(doc, t)}<h1>{e(t["title"])} · {e(st["name"])} ({e(st["person"])})</h1>
<table class="meta">
<tr><td>{e(t["month"])}: {e(doc["month"])}</td><td>{e(t["role"])}: {e(role)}</td>
<td>{e(t["team"])}: {e(st["team"] or na)}</td><td>{e(t["region"])}: {e(st["region"] or na)}</td></tr>
<tr><td colspan=2>{e(t["plan"])}: {e(doc["plan"])} v{doc["plan_version"]}</td>
<td colspan=2>{e(t["cutoff"])}: {e(doc["cutoff"] or na)}</td></tr>
<tr><td colspan=2>{e(t["targets"])}: {e(doc["targets_version"] or na)}</td>
<td colspan=2>{e(t["hired"])}: {e(st["hired"])} · {e(t["left"])}: {e(st["left"] or na)}</td></tr>
</table>
{"".join(sections)}
<h2>{e(t["total"])} ({e(doc["currency"])})</h2>
<table>{pay_rows}<tr class="total"><td>{e(t["total"])}</td><td class=n>{e(st["total"])}</td></tr></table>
<p>{e(t["rounding"])}: {e(t.get("rounding_rule", doc["rounding"]))}</p>
</section>"""


def _estimate(doc: dict[str, Any], t: dict[str, str]) -> str:
    """The banner on every page of an open month's run (never mistaken for pay)."""
    if doc.get("status") != "estimate":
        return ""
    cutoff = f"{t['cutoff']}: {doc['cutoff'] or t['na']}"
    return f'<p class="estimate">{escape(t["estimate"])} ({escape(cutoff)})</p>\n'


def _summary(doc: dict[str, Any], t: dict[str, str]) -> str:
    e = escape
    sums = doc["summaries"]
    rows = [(t["team"], s["team"], s) for s in sums["teams"]]
    rows += [(t["region"], s["region"], s) for s in sums["regions"]] + [(t["summary"], "", sums["floor"])]
    body = "".join(
        f"<tr><td>{e(level)}</td><td>{e(key)}</td><td class=n>{s['people']}</td>"
        f"<td class=n>{e(s['total'])}</td></tr>"
        for level, key, s in rows
    )
    return (
        f'<section class="statement">{_estimate(doc, t)}<h1>{e(t["summary"])} · {e(doc["month"])}</h1>'
        f"<table><tr><th></th><th></th><th>{e(t['people'])}</th><th>{e(t['total'])}</th></tr>"
        f"{body}</table></section>"
    )


def render_html(doc: dict[str, Any], lang: str = "en") -> str:
    t = LABELS[lang]
    pages = "\n".join(_statement(doc, st, t, lang) for st in doc["statements"])
    title = f"{t['title']} {doc['month']}" + (
        f" · {t['estimate']}" if doc.get("status") == "estimate" else ""
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n{pages}\n"
        f"{_summary(doc, t)}\n</body></html>\n"
    )
