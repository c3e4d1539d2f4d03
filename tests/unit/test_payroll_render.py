"""Statements as bytes: the same run gives the same bytes; CSV and HTML are safe to open; an
open month's run says it is an estimate in every format."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date
from decimal import Decimal

import orjson
import pytest

from payroll.compute import compute_month
from payroll.render import render
from payroll.statements import PayRun
from schemas.pay_month import Activity
from tests.unit.payroll_month import inputs, month, plan_with

HOSTILE = '=HYPERLINK("http://x","pay")'


def a_run() -> PayRun:
    plan = plan_with("  west: [team-04, team-05]", "  west: [team-04, team-05, <b>team</b>]")
    data = replace(
        month(
            {
                ("rep-002", "team-01", date(2026, 10, 5)): Activity(
                    {"connects": 12, "revenue": 1_000_000}, 900_000, 850_000
                ),
                (HOSTILE, "<b>team</b>", date(2026, 10, 6)): Activity({"connects": 1}),
            },
            (("rep", "rep-002", "team-01", "day", "connects", 1),),
        ),
        targets_version="abc",
    )
    given = inputs(
        plan,
        "rep-002,王芳,rep,,team-01,,2025-01-01,,",
        "rep-002,王芳,team_lead,2026-10-15,team-01,,,,",
        f'"{HOSTILE.replace(chr(34), chr(34) * 2)}",<i>x</i>,rep,,<b>team</b>,,2025-01-01,,',
        allowances_csv=f"rep_id,item,amount\nrep-002,<script>x</script>,1.00\n"
        f'"{HOSTILE.replace(chr(34), chr(34) * 2)}",-bonus,2.00\n',
        new_hire_pass_rate_csv="rep_id,actual,target\nrep-002,1,1\n",
    )
    return PayRun(plan, data, given, compute_month(plan, data, given))


def test_the_same_run_renders_the_same_bytes_in_every_format() -> None:
    for fmt in ("json", "csv", "html"):
        assert render(a_run(), fmt) == render(a_run(), fmt)


def test_csv_has_a_bom_no_live_formula_and_a_row_per_role() -> None:
    files = render(a_run(), "csv")
    text = files["payroll-2026-10.csv"].decode("utf-8")
    assert text.startswith("\ufeff") and "王芳" in text
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    assert "'-bonus" not in text  # allowance items are not CSV columns; amounts stay numbers
    assert text.count(",rep-002,王芳,") == 2  # promoted on the 15th: a row as rep, a row as lead
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    floor = sum((st.total for st in a_run().statements), Decimal(0))
    assert sum(Decimal(row["total"]) for row in rows) == floor  # the column adds up to the floor
    summary = files["payroll-2026-10-summary.csv"].decode("utf-8")
    assert "floor" in summary and "team-01" in summary


def test_html_escapes_names_and_draws_a_bar_per_kpi() -> None:
    (html,) = render(a_run(), "html", "zh").values()
    text = html.decode()
    assert "<script>x</script>" not in text and "&lt;script&gt;" in text and "<b>team</b>" not in text
    assert "<i>x</i>" not in text
    assert text.count('class="statement"') == len(a_run().statements) + 1
    assert 'class="bar"' in text and "<link" not in text and "src=" not in text
    assert "工资单" in text and 'lang="zh"' in text and "计薪天数" in text
    assert "估算" not in text and 'class="estimate"' not in text


def test_json_carries_plan_targets_cutoff_and_parts() -> None:
    doc = orjson.loads(render(a_run(), "json")["payroll-2026-10.json"])
    assert (doc["plan"], doc["plan_version"], doc["targets_version"], doc["cutoff"], doc["status"]) == (
        "callfloor-standard",
        2,
        "abc",
        "2026-11-01T00:00:00.000Z",
        "statement",
    )
    rep2 = next(st for st in doc["statements"] if st["person"] == "rep-002")
    assert [p["role"] for p in rep2["parts"]] == ["rep", "team_lead"]
    assert rep2["parts"][0]["commission"]["rate"] == "0.015" and rep2["allowances_total"] == "1.00"


@pytest.mark.parametrize(("fmt", "lang"), [("json", "en"), ("csv", "en"), ("html", "en"), ("html", "zh")])
def test_an_open_months_run_is_an_estimate_in_every_format(fmt: str, lang: str) -> None:
    """Issue 24 item 3: a mid-month statement is never mistaken for pay."""
    files = render(replace(a_run(), estimate=True), fmt, lang)
    for name, data in files.items():
        text = data.decode("utf-8")
        assert "估算" in text and ("month not closed" in text or "本月未结" in text), name
        assert "2026-11-01T00:00:00.000Z" in text, name
    if fmt == "csv":
        rows = files["payroll-2026-10.csv"].decode("utf-8").splitlines()[1:]
        assert rows and all("estimate 估算: month not closed" in row for row in rows)
    if fmt == "html":
        (text,) = (data.decode() for data in files.values())
        assert text.count('class="estimate"') == text.count('class="statement"')
