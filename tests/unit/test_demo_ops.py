"""The demo's ops loop without running it: the project's rules and config sped up stay valid
Prometheus files (promtool), every duration is divided, and without the packages the demo
says what it runs without."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
import yaml

from deploy.local.demo import _print_ops
from deploy.local.ops import (
    PROMETHEUS_DIR,
    DemoTiming,
    OpsLoop,
    demo_prometheus_config,
    duration_ms,
    in_words,
    scale_expr,
    scale_text,
    scaled_rules,
)
from schemas.settings import Settings


def test_durations_are_divided_and_never_under_a_second() -> None:
    assert duration_ms("1h30m") == 5_400_000 and duration_ms("500ms") == 500
    assert scale_expr("rate(x[15m]) > 0 and y offset 15m and deriv(z[1h:5m])", 60) == (
        "rate(x[15000ms]) > 0 and y offset 15000ms and deriv(z[60000ms:5000ms])"
    )
    assert scale_expr("rate(x[30s])", 60) == "rate(x[1000ms])"
    assert scale_expr('x{a="[5m]"}', 1) == 'x{a="[300000ms]"}'  # (a label value is never a range here)
    with pytest.raises(ValueError):
        duration_ms("5 minutes")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: apt-get install -y prometheus"
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60, check=False)


def test_the_sped_up_rules_and_config_are_valid_prometheus_files(tmp_path: Path) -> None:
    settings = Settings(web_port=16066, demo_alertmanager_port=19093, demo_speedup=10)
    shipped = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())
    text = scaled_rules((PROMETHEUS_DIR / "rules.yml").read_text(), settings.demo_speedup)
    (tmp_path / "rules.yml").write_text(text)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(demo_prometheus_config(settings)))
    checked = _promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    fast = yaml.safe_load(text)
    pairs = [(a, b) for g, h in zip(shipped["groups"], fast["groups"], strict=True)
             for a, b in zip(g["rules"], h["rules"], strict=True)]  # fmt: skip
    for before, after in pairs:
        assert before.get("alert") == after.get("alert") and before.get("record") == after.get("record")
        if "for" in before:
            assert duration_ms(after["for"]) == max(1000, duration_ms(before["for"]) // 10)
        notes = before.get("annotations", {})
        assert after.get("annotations", {}) == {name: scale_text(note, 10) for name, note in notes.items()}
    config = demo_prometheus_config(settings)
    assert config["scrape_configs"][0]["static_configs"] == [{"targets": ["127.0.0.1:16066"]}]
    assert config["alerting"]["alertmanagers"][0]["static_configs"] == [{"targets": ["127.0.0.1:19093"]}]


def test_alert_texts_say_the_sped_up_duration() -> None:
    """The demo's TeamNotDialing fires after 20 rule-minutes, 2 real minutes at 10x: its text
    says 2 minutes; a duration the rule's timing does not decide (a shift's first 15 minutes,
    counted in shift seconds) is left as written."""
    rules = yaml.safe_load(scaled_rules((PROMETHEUS_DIR / "rules.yml").read_text(), 10))
    by_name = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    assert "in the last 2 minutes of shift hours" in by_name["TeamNotDialing"]["annotations"]["summary"]
    dial_rate = by_name["RepDialRateLow"]["annotations"]
    assert dial_rate["summary"].endswith("floor for the last 90 seconds")
    assert "after its first 15 minutes" in dial_rate["description"]
    assert "sped up" not in orjson.dumps(rules).decode()
    assert scale_text("for 2 minutes{{/* sped up in the demo */}}", 120) == "for 1 second"
    assert scale_text("in the last 20 minutes{{/* sped up in the demo */}}", 1) == "in the last 20 minutes"
    assert [in_words(s) for s in (1, 0.2, 90, 120, 3600)] == [
        "1 second", "1 second", "90 seconds", "2 minutes", "60 minutes",
    ]  # fmt: skip


def test_the_quiet_team_is_quiet_long_enough_to_page() -> None:
    for speedup in (1, 10, 60):
        timing = DemoTiming(speedup)
        assert timing.quiet_for > 20 * 60 / speedup  # TeamNotDialing needs 15 min + for: 5m quiet


def test_without_prometheus_the_demo_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    _print_ops(Settings(), None, DemoTiming(10))
    said = capsys.readouterr().out
    assert "make system-deps" in said and '"alerts not connected"' in said


def test_firing_alerts_are_re_sent_at_the_rules_speed(tmp_path: Path) -> None:
    """Alertmanager holds a firing alert's summary as Prometheus last sent it: at Prometheus'
    default (1m) the demo's abandon alert said 4.455 % while the board showed 6.52 %."""
    loop = OpsLoop(Settings(demo_speedup=10), tmp_path, tmp_path)
    assert "--rules.alert.resend-delay=6000ms" in loop.prometheus_argv("prometheus", tmp_path / "p.yml")
    done = subprocess.run([shutil.which("prometheus") or "prometheus", "--help"], capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    assert "--rules.alert.resend-delay" in done.stdout + done.stderr, "Debian's prometheus has no such flag"
