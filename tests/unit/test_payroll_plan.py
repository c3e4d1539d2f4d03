"""A bad plan or input file stops with FILE line N: FIELD: problem, never half-applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from payroll.inputs import load_inputs, parse_inputs
from payroll.plan import PayPlanError, load_plan, parse_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "payroll.example.yaml"
EXAMPLE_INPUTS = EXAMPLE.parent / "payroll-inputs.example"
TEXT = EXAMPLE.read_text(encoding="utf-8")


def error_of(text: str) -> PayPlanError:
    with pytest.raises(PayPlanError) as caught:
        parse_plan(text.encode(), "plan.yaml")
    return caught.value


def line_of(needle: str) -> int:
    return next(i for i, line in enumerate(TEXT.splitlines(), 1) if needle in line)


def test_the_example_plan_and_inputs_load() -> None:
    plan = load_plan(EXAMPLE)
    assert plan.label == "callfloor-standard v1" and len(plan.sha256) == 64
    assert {r.value: (str(p.base), str(p.performance)) for r, p in plan.doc.roles.items()} == {
        "rep": ("4000.00", "2000.00"),
        "team_lead": ("4000.00", "2000.00"),
        "regional_manager": ("4000.00", "2000.00"),
    }
    inputs = load_inputs(plan, EXAMPLE_INPUTS)
    assert set(inputs.files) == {
        "allowances.csv",
        "collection.csv",
        "new_hire_pass_rate.csv",
        "new_product_sales.csv",
    }


@pytest.mark.parametrize(
    ("old", "new", "field", "message", "needle"),
    [
        ('base: "4000.00"', 'base: "-1"', "roles.rep.base", "must be >= 0", 'base: "4000.00"'),
        ('talk_seconds: "0.15"', 'talk_seconds: "0.25"', "roles.rep.weights", "must sum to 1", "weights:"),
        (
            "valid_connects:     {source: calls",
            "valid_conects:     {source: calls",
            "kpis.valid_conects",
            "not a KPI counter",
            "valid_connects:     {source: calls",
        ),
        (
            '{from: "0.8", rate: "0.02"}',
            '{from: "0.8", rate: "0.02", when: x}',
            "commission.tiers.1.when",
            "unknown key 'when'",
            '{from: "0.8", rate: "0.02"}',
        ),
        (
            "{role: regional_manager, region: east, name: Chen Jing}",
            "{role: regional_manager, name: Chen Jing}",
            "people.rep-031.0.role",
            "needs `region:`",
            "role: regional_manager",
        ),
        ("version: 1", "version: one", "version", "must be a whole number", "version: 1"),
    ],
)
def test_a_mistake_names_the_line_and_field(
    old: str, new: str, field: str, message: str, needle: str
) -> None:
    assert old in TEXT
    error = error_of(TEXT.replace(old, new, 1))
    assert (error.field, error.line) == (field, line_of(needle)), str(error)
    assert message in str(error) and str(error).startswith(f"plan.yaml line {line_of(needle)}: {field}: ")


def test_duplicate_keys_and_broken_yaml_are_refused() -> None:
    assert "duplicate key 'plan'" in str(error_of(TEXT + "plan: again\n"))
    assert "invalid YAML" in str(error_of("plan: [unclosed\n"))
    assert str(error_of("")).endswith("file is empty")


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
        ("allowances.csv", "rep_id,item,amount\nrep-1,x,1.001\n", "line 2: amount: at most 2 decimal places"),
        ("allowances.csv", "rep_id,item,amount\n,x,1\n", "line 2: rep_id: must not be empty"),
    ],
)
def test_input_files_are_validated_like_the_plan(name: str, text: str, message: str) -> None:
    with pytest.raises(PayPlanError) as caught:
        parse_inputs(load_plan(EXAMPLE), {name: text})
    assert message in str(caught.value)


def test_a_missing_input_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(PayPlanError, match="allowances.csv: cannot read file"):
        load_inputs(load_plan(EXAMPLE), tmp_path)
