"""deploy/grafana: every PromQL expression in the dashboard parses, and names only series
the worker exports or deploy/prometheus/rules.yml records.

Parsing is Prometheus' own: each expression becomes a recording rule in a temporary rules
file that ``promtool check rules`` (Debian's ``prometheus``) must accept. The worker's
series names come from its own collectors, rendered, not from a hand-kept list.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from schemas.settings import Settings
from streams.live_collector import LiveCollector
from streams.live_metrics import TargetsKeeper
from streams.live_state import CallFacts, LiveState
from streams.pipeline_metrics import PipelineMetrics

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "callfloor.json"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
# Series Prometheus itself adds to every scrape target, not the worker.
PROMETHEUS_OWN = {"up"}
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "offset", "inf", "nan"}  # fmt: skip


def expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [re.sub(r"^label_values\((.*), *\w+\)$", r"\1", v["query"]["query"])
              for v in dashboard["templating"]["list"] if v["type"] == "query"]  # fmt: skip
    return exprs


def metric_names(expr: str) -> set[str]:
    """Series names in an expression: identifiers that are not functions, keywords, labels."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if following.startswith("(") or match.group() in KEYWORDS:
            continue
        names.add(match.group())
    return names


def exported_series() -> set[str]:
    """Every sample name a worker's /metrics can show, from its real collectors."""
    settings = Settings(timezone="UTC")
    today = date.today()
    state = LiveState(today=lambda: today)
    state.seed(0, [CallFacts("c1", 1, "rep-1", "team-a", today, (1,) * 9)])
    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry)
    metrics.flush_seconds.observe(0.1)
    metrics.lag.labels("cdr", "0").set(0)
    metrics.rejected.labels("invalid_json").inc()
    registry.register(LiveCollector(
        settings, state, exported_partitions=lambda: {0}, partition_of=lambda rep: 0,
        targets=lambda: None, month_before_today=dict, campaign_abandons=lambda: {"camp": (1, 9)},
        clock=lambda: datetime.now(UTC),
    ))  # fmt: skip
    registry.register(TargetsKeeper(settings, pipeline=None))  # type: ignore[arg-type]  # no pipeline: only the target families are read
    text = generate_latest(registry).decode()
    names = {s.name for family in text_string_to_metric_families(text) for s in family.samples}
    # Target series are absent without a targets file; their names are the collector's own.
    return names | {"callfloor_rep_target", "callfloor_team_target"}


def recorded_series() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}


def test_every_expression_parses_with_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: apt-get install prometheus (a missing tool fails, never skips)"
    rules = {"groups": [{"name": "grafana", "rules": [
        {"record": f"grafana:expr_{i}:check", "expr": expr} for i, expr in enumerate(expressions())
    ]}]}  # fmt: skip
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_refuses_a_broken_expression(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool
    path = tmp_path / "broken.yml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "a:b:c", "expr": "sum(("}]}]})
    )
    assert subprocess.run([promtool, "check", "rules", str(path)], capture_output=True).returncode != 0


@pytest.mark.parametrize("expr", expressions())
def test_expression_names_only_known_series(expr: str) -> None:
    known = exported_series() | recorded_series() | PROMETHEUS_OWN
    names = metric_names(expr)
    assert names, f"no series found in {expr!r}"
    assert names <= known, f"unknown series {sorted(names - known)} in {expr!r}"


def test_name_finder_sees_series_and_skips_labels_and_functions() -> None:
    expr = 'histogram_quantile(0.99, sum by (le) (rate(x_bucket{a="b(c)"}[5m]))) / on () group_left () y:z'
    assert metric_names(expr) == {"x_bucket", "y:z"}


def test_dashboard_covers_floor_team_rep_and_pipeline() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert [r.split(" ")[0] for r in rows] == ["Floor", "Team", "Rep", "Pipeline"]
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"team", "rep"}
    uid = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "callfloor.yml").read_text())
    assert {p["datasource"]["uid"] for p in dashboard["panels"] if "datasource" in p} == {
        uid["datasources"][0]["uid"]
    }
