"""The demo's ops loop: Prometheus and Alertmanager (Debian's packages) with the project's rules.

``callfloor demo`` starts both when their binaries are installed (``make system-deps``), and
the demo still runs without them, saying so. Prometheus gets the project's
``deploy/prometheus/prometheus.yml`` pointed at the demo's worker and Alertmanager, and the
project's ``rules.yml`` with every duration divided by ``CALLFLOOR_DEMO_SPEEDUP`` (the one
knob: the demo's fault timing is derived from it too, see :class:`DemoTiming`), so an
incident that pages after 20 minutes on a real floor pages after 2 minutes in a demo at the
default speed-up of 10. Alertmanager gets the project's ``alertmanager.yml`` unchanged.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from deploy.local.broker import wait_for_port
from deploy.local.processes import spawn, stop
from schemas.settings import Settings
from schemas.wording import counted
from wallboard.alerts import parse_alertmanager

PROMETHEUS_DIR = Path(__file__).resolve().parents[1] / "prometheus"
PROMETHEUS_BINARY = "prometheus"
ALERTMANAGER_BINARY = "prometheus-alertmanager"  # Debian's name for it
_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
             "y": 31_536_000_000}  # fmt: skip
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_DURATION_LITERAL = r"(?:\d+(?:ms|s|m|h|d|w|y))+"
# Where a PromQL expression holds a duration: a range [15m], a subquery [1h:5m], an offset.
_RANGE = re.compile(rf"\[({_DURATION_LITERAL})(?::({_DURATION_LITERAL})?)?\]")
_OFFSET = re.compile(rf"\boffset\s+({_DURATION_LITERAL})")
MIN_DURATION_MS = 1000  # Prometheus needs two scrapes in a range; scrapes are at least 1 s apart
# A duration in an annotation that follows the rule's timing, marked in rules.yml by a template
# comment (it renders as nothing on a real floor): "the last 20 minutes{{/* sped up in the demo */}}".
SPED_UP_TEXT = re.compile(r"(\d+) (second|minute|hour)s?\{\{/\* sped up in the demo \*/\}\}")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600}
# Prometheus re-sends a firing alert, its annotations evaluated afresh, at most this often (its
# default, as a real floor runs it): Alertmanager, and the wallboard reading it, hold the summary's
# figure ("camp-01 abandoned 4.455 %") that long. Sped up with the rules, or the demo's alert
# lags the board's panel by ten rule-minutes of a fast-moving rate (6.52 % on the board).
RESEND_DELAY = "1m"


def duration_ms(text: str) -> int:
    """A Prometheus duration ("1h30m", "15m", "500ms") in milliseconds."""
    if not re.fullmatch(_DURATION_LITERAL, text):
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNITS_MS[unit] for n, unit in _DURATION.findall(text))


def scaled(text: str, speedup: float) -> str:
    """A duration divided by ``speedup`` (never under 1 s), in milliseconds."""
    return f"{max(MIN_DURATION_MS, round(duration_ms(text) / speedup))}ms"


def scale_expr(expr: str, speedup: float) -> str:
    def in_range(match: re.Match[str]) -> str:
        window, step = match.group(1), match.group(2)
        return f"[{scaled(window, speedup)}" + (f":{scaled(step, speedup)}" if step else "") + "]"

    expr = _RANGE.sub(in_range, expr)
    return _OFFSET.sub(lambda m: f"offset {scaled(m.group(1), speedup)}", expr)


def in_words(seconds: float) -> str:
    """A duration as an alert's text says it: "2 minutes", "90 seconds", "1 second"."""
    whole = max(1, round(seconds))
    count, unit = (whole // 60, "minute") if whole >= 60 and whole % 60 == 0 else (whole, "second")
    return counted(count, unit, f"{unit}s")


def scale_text(text: str, speedup: float) -> str:
    """An annotation with each marked duration divided by ``speedup`` (the marker dropped)."""
    return SPED_UP_TEXT.sub(
        lambda m: in_words(int(m.group(1)) * _UNIT_SECONDS[m.group(2)] / speedup), text
    )


def scaled_rules(text: str, speedup: float) -> str:
    """The rules file with every ``for:``, every duration inside an expression, and every marked
    duration in an annotation (``SPED_UP_TEXT``) sped up."""
    document = yaml.safe_load(text)
    for group in document["groups"]:
        if "interval" in group:
            group["interval"] = scaled(group["interval"], speedup)
        for rule in group["rules"]:
            rule["expr"] = scale_expr(rule["expr"], speedup)
            if "for" in rule:
                rule["for"] = scaled(rule["for"], speedup)
            for name, note in rule.get("annotations", {}).items():
                rule["annotations"][name] = scale_text(note, speedup)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)


def demo_prometheus_config(settings: Settings) -> dict[str, Any]:
    """The project's prometheus.yml, its intervals sped up, scraping the demo's worker."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    speedup = settings.demo_speedup
    for key in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
        if key in config.get("global", {}):
            config["global"][key] = scaled(config["global"][key], speedup)
    for job in config["scrape_configs"]:
        job["scrape_interval"] = scaled(job.get("scrape_interval", "15s"), speedup)
        job["static_configs"] = [{"targets": [f"127.0.0.1:{settings.web_port}"]}]
    config["alerting"]["alertmanagers"] = [
        {"static_configs": [{"targets": [f"127.0.0.1:{settings.demo_alertmanager_port}"]}]}
    ]
    config["rule_files"] = ["rules.yml"]
    return config


@dataclass(frozen=True)
class DemoTiming:
    """When the demo's quiet team stops dialing and for how long, in real seconds: rule time
    (minutes on a real floor) divided by ``CALLFLOOR_DEMO_SPEEDUP``. TeamNotDialing needs 20
    rule-minutes without a dial (a 15 min window, then ``for: 5m``), so the team stays quiet
    for 60 and then dials again (the alert resolves)."""

    speedup: float
    quiet_team: str = "team-02"
    quiet_after_minutes: float = 5.0
    quiet_minutes: float = 60.0

    @property
    def quiet_after(self) -> float:
        return max(20.0, self.quiet_after_minutes * 60 / self.speedup)

    @property
    def quiet_for(self) -> float:
        return self.quiet_minutes * 60 / self.speedup

    @property
    def fires_after(self) -> float:
        """Seconds after the start by which TeamNotDialing should be firing."""
        return self.quiet_after + 20 * 60 / self.speedup


def binaries() -> tuple[str | None, str | None]:
    return shutil.which(PROMETHEUS_BINARY), shutil.which(ALERTMANAGER_BINARY)


class OpsLoop:
    """Prometheus and Alertmanager for the demo, stopped by :meth:`stop`."""

    def __init__(self, settings: Settings, home: Path, logs: Path) -> None:
        self.settings, self.home, self.logs = settings, home / "ops", logs
        self.processes: list[subprocess.Popen[bytes]] = []
        self.firing: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}  # labels -> the alert

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.demo_prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.demo_alertmanager_port}"

    def start(self) -> None:
        prometheus, alertmanager = binaries()
        assert prometheus and alertmanager, "check binaries() first"
        self.home.mkdir(parents=True, exist_ok=True)
        rules = (PROMETHEUS_DIR / "rules.yml").read_text()
        (self.home / "rules.yml").write_text(scaled_rules(rules, self.settings.demo_speedup))
        config = self.home / "prometheus.yml"
        config.write_text(yaml.safe_dump(demo_prometheus_config(self.settings), sort_keys=False))
        self.processes.append(spawn([
            alertmanager, f"--config.file={PROMETHEUS_DIR / 'alertmanager.yml'}",
            f"--storage.path={self.home / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{self.settings.demo_alertmanager_port}",
            "--cluster.listen-address=",  # one instance: no gossip port
        ], {}, self.logs / "alertmanager.log"))  # fmt: skip
        argv = self.prometheus_argv(prometheus, config)
        self.processes.append(spawn(argv, {}, self.logs / "prometheus.log"))
        wait_for_port("127.0.0.1", self.settings.demo_alertmanager_port, 60, "Alertmanager")
        wait_for_port("127.0.0.1", self.settings.demo_prometheus_port, 60, "Prometheus")

    def prometheus_argv(self, binary: str, config: Path) -> list[str]:
        """Prometheus with the demo's config, its alerts re-sent at the rules' speed."""
        return [
            binary, f"--config.file={config}", f"--storage.tsdb.path={self.home / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{self.settings.demo_prometheus_port}",
            f"--rules.alert.resend-delay={scaled(RESEND_DELAY, self.settings.demo_speedup)}",
        ]  # fmt: skip

    def alerts_page(self) -> str:
        """Prometheus' alerts page, as this Prometheus serves it: ``/alerts`` upstream, but
        Debian's build ships only the classic UI, where ``/alerts`` is a 404 and the page is
        ``/classic/alerts``. Call after :meth:`start`."""
        for path in ("/alerts", "/classic/alerts"):
            try:
                with urllib.request.urlopen(self.prometheus_url + path, timeout=5) as response:
                    if response.status == 200:
                        return self.prometheus_url + path
            except OSError:  # an HTTPError (the 404) is one
                continue
        return self.prometheus_url + "/"  # the root redirects to whichever UI there is

    def changes(self) -> list[str]:
        """Lines for the alerts that started or stopped firing since the last call. An alert is
        its labels: its summary's figure changes while it fires ("4.455 %", then "7.101 %")
        and that is the same alert still firing, not one resolved and another fired."""
        try:
            url = f"{self.alertmanager_url}/api/v2/alerts?active=true"
            with urllib.request.urlopen(url, timeout=5) as response:
                body = orjson.loads(response.read())
        except OSError:
            return []
        active = [raw for raw in body if raw.get("status", {}).get("state", "active") == "active"]
        now = {_identity(raw): alert for raw, alert in zip(active, parse_alertmanager(active), strict=True)}
        started = _in_order([now[key] for key in now if key not in self.firing])
        ended = _in_order([alert for key, alert in self.firing.items() if key not in now])
        lines = [f"ALERT firing   [{a['severity']}] {a['name']}: {a['summary']}" for a in started]
        lines += [f"ALERT resolved {a['name']}: {a['summary']}" for a in ended]  # as last seen firing
        self.firing = now
        return lines

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop(process)


def _identity(raw: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """What makes an alert itself in Alertmanager: its labels (not its annotations)."""
    return tuple(sorted(raw.get("labels", {}).items()))


def _in_order(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(alerts, key=lambda alert: (alert["name"], alert["summary"]))
