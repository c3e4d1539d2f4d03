"""Statements as bytes: the same run gives the same bytes; CSV and HTML are safe to open."""

from __future__ import annotations

from datetime import date

import orjson

from payroll.compute import compute_month
from payroll.inputs import parse_inputs
from payroll.plan import load_plan
from payroll.render import render
from payroll.statements import PayRun
from schemas.pay_month import Activity, MonthData
from tests.unit.test_payroll_plan import EXAMPLE

HOSTILE = '=HYPERLINK("http://x","pay")'


def a_run() -> PayRun:
    plan = load_plan(EXAMPLE)
    data = MonthData(
        date(2026, 10, 1),
        "2026-11-01T00:00:00.000Z",
        {
            ("rep-002", "team-01"): Activity({"connects": 12, "revenue": 1_000_000}, 900_000, 850_000),
            (HOSTILE, "<b>team</b>"): Activity({"connects": 1}),
        },
        {"rep-002": 20, HOSTILE: 1},
        {"team-01": 20, "<b>team</b>": 1},
        {"rep-002": "team-01", HOSTILE: "<b>team</b>"},
        "abc",
        (("rep", "rep-002", "team-01", "day", "connects", 1),),
    )
    inputs = parse_inputs(
        plan,
        {
            "allowances.csv": f"rep_id,item,amount\nrep-002,<script>x</script>,1.00\n"
            f'"{HOSTILE.replace(chr(34), chr(34) * 2)}",-bonus,2.00\n'
        },
    )
    return PayRun(plan, data, inputs, compute_month(plan, data, inputs))


def test_the_same_run_renders_the_same_bytes_in_every_format() -> None:
    for fmt in ("json", "csv", "html"):
        assert render(a_run(), fmt) == render(a_run(), fmt)


def test_csv_has_a_bom_and_no_live_formula() -> None:
    files = render(a_run(), "csv")
    text = files["payroll-2026-10.csv"].decode("utf-8")
    assert text.startswith("\ufeff") and "王芳" in text
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    assert "'-bonus" not in text  # allowance items are not CSV columns; amounts stay numbers
    summary = files["payroll-2026-10-summary.csv"].decode("utf-8")
    assert "floor" in summary and "team-01" in summary


def test_html_escapes_names_and_draws_a_bar_per_kpi() -> None:
    (html,) = render(a_run(), "html", "zh").values()
    text = html.decode()
    assert "<script>x</script>" not in text and "&lt;script&gt;" in text and "<b>team</b>" not in text
    assert text.count('class="statement"') == len(a_run().statements) + 1
    assert 'class="bar"' in text and "<link" not in text and "src=" not in text
    assert "工资单" in text and 'lang="zh"' in text


def test_json_carries_plan_targets_and_cutoff_and_adds_up() -> None:
    doc = orjson.loads(render(a_run(), "json")["payroll-2026-10.json"])
    assert (doc["plan"], doc["plan_version"], doc["targets_version"], doc["cutoff"]) == (
        "callfloor-standard",
        1,
        "abc",
        "2026-11-01T00:00:00.000Z",
    )
    rep = next(st for st in doc["statements"] if st["person"] == "rep-002")
    assert rep["commission"]["rate"] == "0.015" and rep["allowances_total"] == "1.00"
