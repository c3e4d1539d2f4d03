"""The alert rules at another pace: every duration of deploy/prometheus/rules.yml divided by one
factor, for tests that watch an alert go all the way to a receiver.

The rules' durations (range windows such as ``[15m]``, ``for: 5m``) are stated once, in
rules.yml. TeamNotDialing takes 20 minutes there; an end-to-end test cannot wait that long, so it
runs the same rules with every duration divided by ``factor`` (60: a minute becomes a second).
Counts of seconds compared with the workers' gauges (``shift_elapsed_seconds >= 900``, ``> 300``
seconds since the last event) are not durations and stay as they are: such a test sets the shift
so that they hold.
"""

from __future__ import annotations

import re

import yaml

_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
# a range selector or subquery: [15m], [1h:5m]
_RANGE = re.compile(r"\[(\d+(?:ms|s|m|h|d|w|y)(?:\d+(?:ms|s|m|h|d|w|y))*)(?::(\d+(?:ms|s|m|h|d|w|y))?)?\]")


def seconds(duration: str) -> float:
    """A Prometheus duration (``1h30m``) in seconds."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _UNIT_S[u] for n, u in parts)


def divided(duration: str, factor: int) -> str:
    """``duration`` divided by ``factor``, in whole milliseconds (at least 1 ms)."""
    return f"{max(1, round(seconds(duration) * 1000 / factor))}ms"


def rules_at_pace(rules_text: str, factor: int) -> str:
    """The rule file with every ``for:`` and every range window divided by ``factor``."""
    doc = yaml.safe_load(rules_text)

    def window(match: re.Match[str]) -> str:
        step = f":{divided(match[2], factor)}" if match[2] else (":" if ":" in match[0] else "")
        return f"[{divided(match[1], factor)}{step}]"

    for group in doc["groups"]:
        if "interval" in group:
            group["interval"] = divided(group["interval"], factor)
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = divided(rule["for"], factor)
            rule["expr"] = _RANGE.sub(window, rule["expr"])
    return yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)
