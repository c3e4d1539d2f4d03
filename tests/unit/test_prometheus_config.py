"""deploy/prometheus: the Prometheus config, alert rules and Alertmanager routing are valid and tested.

Runs Debian's ``promtool`` (package ``prometheus``) and ``amtool`` (package
``prometheus-alertmanager``). A missing tool is a failure, never a skip: an alert that is
not checked here pages nobody or the wrong person in production.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from schemas.abandon import REGIMES, Regime
from schemas.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
CONFIG = PROM / "prometheus.yml"
RULES = PROM / "rules.yml"
RULES_TEST = PROM / "rules_test.yml"
ALERTMANAGER = PROM / "alertmanager.yml"

SEVERITIES = {"page", "warning"}
AUDIENCES = {"team_lead", "ops"}
# Which Alertmanager receiver each (audience, severity) must reach.
RECEIVERS = {
    ("team_lead", "warning"): "team-lead",
    ("team_lead", "page"): "team-lead",
    ("ops", "warning"): "ops",
    ("ops", "page"): "ops-page",
}


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not on PATH: install it with `apt-get install -y {package}`", pytrace=False)
    return path


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def _assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def _alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _records() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["record"]: rule["expr"] for group in groups for rule in group["rules"] if "record" in rule}


# --- promtool -------------------------------------------------------------------------------


def test_prometheus_config_is_valid() -> None:
    _assert_ok(_run(_tool("promtool", "prometheus"), "check", "config", str(CONFIG)))


def test_rules_are_valid_and_lint_clean() -> None:
    _assert_ok(_run(_tool("promtool", "prometheus"), "check", "rules", "--lint-fatal", str(RULES)))


def test_rule_unit_tests_pass() -> None:
    _assert_ok(_run(_tool("promtool", "prometheus"), "test", "rules", str(RULES_TEST)))


# --- structure ------------------------------------------------------------------------------


def test_every_alert_has_severity_audience_summary_and_description() -> None:
    alerts = _alerts()
    assert alerts, "rules.yml defines no alerts"
    problems = []
    for rule in alerts:
        name, labels, notes = rule["alert"], rule.get("labels", {}), rule.get("annotations", {})
        for key, allowed in (("severity", SEVERITIES), ("audience", AUDIENCES)):
            if labels.get(key) not in allowed:
                problems.append(f"{name}: {key} must be one of {sorted(allowed)}, got {labels.get(key)!r}")
        for key in ("summary", "description"):
            if not str(notes.get(key, "")).strip():
                problems.append(f"{name}: missing annotation {key!r}")
    assert not problems, "\n".join(problems)


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    """A new alert without a promtool case that fires it and one that must not fails here."""
    cases = [case for test in yaml.safe_load(RULES_TEST.read_text())["tests"]
             for case in test.get("alert_rule_test", [])]  # fmt: skip
    fires = {case["alertname"] for case in cases if case.get("exp_alerts")}
    silent = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    names = {rule["alert"] for rule in _alerts()}
    assert not names - fires, f"alerts never shown firing in rules_test.yml: {sorted(names - fires)}"
    assert not names - silent, f"alerts never shown silent in rules_test.yml: {sorted(names - silent)}"
    # Alerts with several rules (PipelineStalled) are told apart by `cause`: each one must fire.
    fired_causes = {(case["alertname"], alert["exp_labels"].get("cause"))
                    for case in cases for alert in case.get("exp_alerts") or []}  # fmt: skip
    for rule in _alerts():
        cause = rule.get("labels", {}).get("cause")
        if cause is not None:
            assert (rule["alert"], cause) in fired_causes, f"{rule['alert']} cause={cause} never fires"


def test_fallback_dial_floor_matches_the_worker_default() -> None:
    expr = _records()["callfloor:dial_rate_floor_per_hour:max"]
    match = re.search(r"or\s+vector\(\s*([0-9.]+)\s*\)", expr)
    assert match, f"callfloor:dial_rate_floor_per_hour:max has no `or vector(N)` fallback: {expr}"
    default = Settings.model_fields["dial_rate_floor_per_hour"].default
    assert float(match.group(1)) == default, (
        f"rules.yml falls back to a {match.group(1)}/h floor, the workers default to {default}/h "
        "(CALLFLOOR_DIAL_RATE_FLOOR_PER_HOUR): keep them equal"
    )


@pytest.mark.parametrize("regime", list(REGIMES.values()), ids=list(REGIMES))
def test_each_abandon_regime_pages_at_its_own_line_for_its_own_campaigns(regime: Regime) -> None:
    """The line the wallboard draws (schemas/abandon.py) is the one the alert pages at, and the
    alert judges only the campaigns under its regime."""
    rule = next(r for r in _alerts() if r["alert"] == regime.alert)
    expr = " ".join(rule["expr"].split())
    match = re.search(rf"callfloor:campaign_abandon_rate_{regime.name}:max > ([0-9.]+)", expr)
    assert match and float(match.group(1)) == regime.line, expr
    assert f"callfloor_campaign_abandon_rate_{regime.name}" in _records()[
        f"callfloor:campaign_abandon_rate_{regime.name}:max"
    ]
    own = f'regime="{regime.name}"}} == 1' in expr or f'regime!="{regime.name}"}} == 1' in expr
    assert own, f"{regime.alert} does not select the campaigns under the {regime.name} regime: {expr}"


def test_scrape_job_is_the_one_the_rules_select() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    assert "callfloor" in jobs
    assert config["rule_files"] == ["rules.yml"]
    worker_down = next(rule for rule in _alerts() if rule["alert"] == "WorkerDown")
    assert 'job="callfloor"' in worker_down["expr"]


# --- amtool ---------------------------------------------------------------------------------


def test_alertmanager_config_is_valid() -> None:
    _assert_ok(_run(_tool("amtool", "prometheus-alertmanager"), "check-config", str(ALERTMANAGER)))


def _alert_id(rule: dict) -> str:
    cause = rule.get("labels", {}).get("cause")
    return f"{rule['alert']}-{cause}" if cause else rule["alert"]


@pytest.mark.parametrize("alert", _alerts(), ids=_alert_id)
def test_every_alert_reaches_its_receiver(alert: dict) -> None:
    labels = {"alertname": alert["alert"], "team": "team-01", "instance": "127.0.0.1:6066", **alert["labels"]}
    expected = RECEIVERS[(labels["audience"], labels["severity"])]
    argv = [f"{key}={value}" for key, value in sorted(labels.items())]
    _assert_ok(_run(_tool("amtool", "prometheus-alertmanager"), "config", "routes", "test",
                    f"--config.file={ALERTMANAGER}", f"--verify.receivers={expected}", *argv))  # fmt: skip
