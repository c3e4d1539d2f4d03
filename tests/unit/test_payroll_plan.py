"""A bad plan, roster or input file stops with FILE line N: FIELD: problem, never half-applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from payroll.inputs import load_inputs, parse_inputs
from payroll.plan import PayPlanError, load_plan, parse_plan
from tests.unit.payroll_month import EXAMPLE, EXAMPLE_INPUTS, PLAN, TEXT, inputs, rep


def error_of(text: str) -> PayPlanError:
    with pytest.raises(PayPlanError) as caught:
        parse_plan(text.encode(), "plan.yaml")
    return caught.value


def line_of(needle: str) -> int:
    return next(i for i, line in enumerate(TEXT.splitlines(), 1) if needle in line)


def test_the_example_plan_and_inputs_load() -> None:
    plan = load_plan(EXAMPLE)
    assert plan.label == "callfloor-standard v2" and len(plan.sha256) == 64
    assert {r.value: (str(p.base), str(p.performance)) for r, p in plan.doc.roles.items()} == {
        "rep": ("4000.00", "2000.00"),
        "team_lead": ("5000.00", "2500.00"),
        "regional_manager": ("4000.00", "2000.00"),
        "acting_regional_manager": ("3000.00", "2000.00"),
    }
    given = load_inputs(plan, EXAMPLE_INPUTS)
    assert set(given.files) == {
        "allowances.csv",
        "collection.csv",
        "new_hire_pass_rate.csv",
        "new_product_sales.csv",
        "roster.csv",
        "script_quality.csv",
    }
    assert len(given.roster.people) == 27 and [p.role for p in given.roster.people["rep-021"].periods] == [
        "rep",
        "team_lead",
    ]


def test_the_example_scores_the_seeds_outbound_counters() -> None:
    """呼出接通数量 / 时间 are outbound connects and talk, not connects that include inbound calls."""
    weights = PLAN.doc.roles["rep"].weights
    assert "outbound_connects" in weights and "outbound_talk_seconds" in weights
    assert "connects" not in weights and "talk_seconds" not in weights


@pytest.mark.parametrize(
    ("old", "new", "field", "message", "needle"),
    [
        ('base: "4000.00"', 'base: "-1"', "roles.rep.base", "must be >= 0", 'base: "4000.00"'),
        (
            'valid_connects: "0.10",',
            'valid_connects: "0.20",',
            "roles.rep.weights",
            "must sum to 1",
            "weights: {outbound_connects",
        ),
        (
            "valid_connects:        {source: calls",
            "valid_conects:        {source: calls",
            "kpis.valid_conects",
            "not a KPI counter",
            "valid_connects:        {source: calls",
        ),
        (
            '{from: "0.8", rate: "0.02"}',
            '{from: "0.8", rate: "0.02", when: x}',
            "commission.tiers.1.when",
            "unknown key 'when'",
            '{from: "0.8", rate: "0.02"}',
        ),
        ("version: 2", "version: two", "version", "must be a whole number", "version: 2"),
        (
            "  west: [team-04, team-05]",
            "  west: [team-04, team-03]",
            "regions.west",
            "team team-03 is also in region east",
            "  west: [team-04",
        ),
        (
            "    within: team\n",
            "    within: region\n",
            "awards.1.within",
            "",
            "    within: team",
        ),
        (
            "  - id: team_top_three",
            "  - id: sales_champion",
            "awards.1.id",
            "award id 'sales_champion' is used twice",
            "  - id: team_top_three",
        ),
        (
            "  team_lead:\n    tiers:",
            "  rep:\n    tiers:",
            "overrides.rep",
            "a rep's rate is `commission:`",
            "  team_lead:\n    tiers:",
        ),
    ],
)
def test_a_mistake_names_the_line_and_field(
    old: str, new: str, field: str, message: str, needle: str
) -> None:
    assert old in TEXT
    if field == "awards.1.within":  # ranks within region: fine, the example has regions
        parse_plan(TEXT.replace(old, new, 1).encode(), "plan.yaml")
        no_regions = TEXT.replace(old, new, 1).replace(
            "regions:\n  east: [team-01, team-02, team-03]\n  west: [team-04, team-05]\n", ""
        )
        error = error_of(no_regions)
        assert error.field == field and "ranks within region but the plan has no `regions:`" in str(error)
        return
    error = error_of(TEXT.replace(old, new, 1))
    line = (
        line_of(needle.split("\n")[0]) if "\n" not in needle else TEXT[: TEXT.index(needle)].count("\n") + 1
    )
    assert (error.field, error.line) == (field, line), str(error)
    assert message in str(error) and str(error).startswith(f"plan.yaml line {line}: {field}: ")


def test_duplicate_keys_and_broken_yaml_are_refused() -> None:
    assert "duplicate key 'plan'" in str(error_of(TEXT + "plan: again\n"))
    assert "invalid YAML" in str(error_of("plan: [unclosed\n"))
    assert str(error_of("")).endswith("file is empty")
    assert "unknown key 'people'" in str(error_of(TEXT + "people: {}\n"))


LEAD = "lead-1,Lead,team_lead,,team-01,,2024-01-01,,"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            (LEAD, "lead-2,Other,team_lead,,team-01,,2024-01-01,,"),
            "roster.csv line 3: role: team team-01 already has lead lead-1 (line 2) on 2024-01-01",
        ),
        (
            (LEAD, "lead-2,Other,rep,,team-01,,2024-01-01,,", "lead-2,,team_lead,2026-10-15,team-01,,,,"),
            "roster.csv line 4: role: team team-01 already has lead lead-1 (line 2) on 2026-10-15",
        ),
        (
            ("m-1,M,regional_manager,,,north,2024-01-01,,",),
            "roster.csv line 2: region: unknown region 'north' (east, west)",
        ),
        (
            (
                "m-1,M,regional_manager,,,east,2024-01-01,,",
                "m-2,N,acting_regional_manager,,,east,2026-10-01,,",
            ),
            "roster.csv line 3: role: region east already has manager m-1 (line 2) on 2026-10-01",
        ),
        (
            ("r-1,R,rep,,team-99,,2024-01-01,,",),
            "roster.csv line 2: team: team team-99 is in no region of the plan (east, west)",
        ),
        (
            ("r-1,R,rep,,team-01,west,2024-01-01,,",),
            "roster.csv line 2: region: team team-01 is in region east in the plan",
        ),
        (("r-1,R,cashier,,team-01,,2024-01-01,,",), "roster.csv line 2: role: unknown role 'cashier'"),
        (("r-1,R,rep,,team-01,,2024-13-01,,",), "roster.csv line 2: hired: must be a date like 2026-10-01"),
        (
            ("r-1,R,rep,,team-01,,2024-01-01,2023-01-01,",),
            "roster.csv line 2: left: 2023-01-01 is before the hire date",
        ),
        (
            ("r-1,R,rep,,team-01,,2024-01-01,,", "r-1,S,team_lead,2025-01-01,team-01,,,,"),
            "roster.csv line 3: name: differs from line 2 (R)",
        ),
        (
            ("r-1,R,rep,,team-01,,2024-01-01,,", "r-1,,team_lead,,team-01,,,,"),
            "roster.csv line 3: from: a later role needs the day it takes effect",
        ),
        (("r-1,R,rep,,team-01,,2024-01-01,,1e30",), "roster.csv line 2: base: must be under"),
        (("r-1,,rep,,team-01,,2024-01-01,,",), "roster.csv line 2: name: must not be empty"),
    ],
)
def test_the_roster_is_validated_against_the_plan(rows: tuple[str, ...], message: str) -> None:
    with pytest.raises(PayPlanError) as caught:
        inputs(PLAN, *rows)
    assert str(caught.value).startswith(message), str(caught.value)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "collection.csv",
            "rep_id,actual\nrep-1,abc\n",
            "collection.csv line 2: actual: must be a number >= 0",
        ),
        ("collection.csv", "rep_id,actual\nrep-1,1\nrep-1,2\n", "line 3: rep_id: duplicate rep_id 'rep-1'"),
        ("collection.csv", "rep,actual\n", "collection.csv line 1: missing column 'rep_id'"),
        (
            "collection.csv",
            "rep_id,actual\nrep-9,1\n",
            "line 2: rep_id: 'rep-9' is not on the roster (roster.csv)",
        ),
        ("allowances.csv", "rep_id,item,amount\nrep-1,x,1.001\n", "line 2: amount: at most 2 decimal places"),
        ("allowances.csv", "rep_id,item,amount\n,x,1\n", "line 2: rep_id: must not be empty"),
        (
            "allowances.csv",
            "rep_id,item,amount\nrep-1,x,1e30\n",
            "line 2: amount: must be under 10,000,000,000,000,000",
        ),
        (
            "allowances.csv",
            "rep_id,item,amount\nrep-1,x,12345678901234567890\n",
            "line 2: amount: must be under",
        ),
    ],
)
def test_input_files_are_validated_like_the_plan(name: str, text: str, message: str) -> None:
    """Issue 22: an allowance of 1e30 crashed with a traceback; a 20-digit one was accepted and
    could not be stored at close (Decimal(18, 2))."""
    with pytest.raises(PayPlanError) as caught:
        inputs(PLAN, rep("rep-1"), **{name.replace(".csv", "_csv"): text})
    assert message in str(caught.value)


def test_a_missing_input_file_names_it(tmp_path: Path) -> None:
    (tmp_path / "roster.csv").write_text((EXAMPLE_INPUTS / "roster.csv").read_text())
    with pytest.raises(PayPlanError, match="allowances.csv: cannot read file"):
        load_inputs(load_plan(EXAMPLE), tmp_path)
    with pytest.raises(
        PayPlanError, match="roster.file: the plan names the roster roster.csv: pass --inputs"
    ):
        load_inputs(load_plan(EXAMPLE), None)
    with pytest.raises(PayPlanError, match="the plan names this file but it was not given"):
        parse_inputs(load_plan(EXAMPLE), {})
