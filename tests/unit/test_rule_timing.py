"""deploy/rule_timing.py: the project's rules at another pace keep every rule and threshold and
divide only durations, and Prometheus' own checker accepts the result."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.rule_timing import divided, rules_at_pace, seconds

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"


@pytest.mark.parametrize(("duration", "expected"),
                         [("15m", 900), ("1h30m", 5400), ("250ms", 0.25), ("2d", 172800)])  # fmt: skip
def test_durations_read_as_prometheus_does(duration: str, expected: float) -> None:
    assert seconds(duration) == expected


@pytest.mark.parametrize("bad", ["", "15", "m15", "1.5m", "15mm"])
def test_a_non_duration_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        seconds(bad)


def test_only_durations_change(tmp_path: Path) -> None:
    fast = yaml.safe_load(rules_at_pace(RULES.read_text(), 60))
    slow = yaml.safe_load(RULES.read_text())
    pairs = [(a, b) for ga, gb in zip(slow["groups"], fast["groups"], strict=True)
             for a, b in zip(ga["rules"], gb["rules"], strict=True)]  # fmt: skip
    by_name = {(b.get("alert") or b.get("record")): b for _, b in pairs}
    assert by_name["TeamNotDialing"]["for"] == "5000ms"
    assert "[15000ms]" in by_name["callfloor:rep_dials_per_hour:rate15m"]["expr"]
    assert ">= 900" in by_name["TeamNotDialing"]["expr"], "second counts on gauges are not durations"
    for slow_rule, fast_rule in pairs:
        assert {k: v for k, v in slow_rule.items() if k not in ("for", "expr")} == \
               {k: v for k, v in fast_rule.items() if k not in ("for", "expr")}  # fmt: skip
        if "for" in slow_rule:
            assert seconds(fast_rule["for"]) * 60 == pytest.approx(seconds(slow_rule["for"]))
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make system-deps` installs Debian's prometheus"
    (tmp_path / "fast.yml").write_text(rules_at_pace(RULES.read_text(), 60))
    done = subprocess.run([promtool, "check", "rules", str(tmp_path / "fast.yml")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert divided("1s", 10_000) == "1ms"
