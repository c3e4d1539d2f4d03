"""The alerts panel's groups (wallboard.alerts.grouped): a dozen alerts of one name are one line
with a count and the first few subjects, pages come before warnings, and a single alert keeps
its summary. The page drawing them on a 1080p TV is tested in
tests/integration/test_wallboard_page.py."""

from __future__ import annotations

from wallboard.alerts import SUBJECTS_SHOWN, grouped, parse_alertmanager


def _raw(name: str, severity: str, summary: str = "", **labels: str) -> dict:
    return {"labels": {"alertname": name, "severity": severity, **labels},
            "annotations": {"summary": summary}, "status": {"state": "active"}}  # fmt: skip


def test_a_dozen_of_one_name_are_one_group_after_the_page() -> None:
    slow = [_raw("RepDialRateLow", "warning", f"rep-{i:03d} is slow", rep=f"rep-{i:03d}", team="team-01")
            for i in range(12, 0, -1)]  # fmt: skip
    paged = _raw("CampaignAbandonRateHigh", "page", "camp-01 abandoned 4.12 %", campaign="camp-01")
    groups = grouped(parse_alertmanager([*slow, paged]))
    assert groups == [
        {"name": "CampaignAbandonRateHigh", "severity": "page", "count": 1, "subjects": ["camp-01"],
         "more": 0, "summary": "camp-01 abandoned 4.12 %"},
        {"name": "RepDialRateLow", "severity": "warning", "count": 12,
         "subjects": ["rep-001", "rep-002", "rep-003"], "more": 12 - SUBJECTS_SHOWN, "summary": ""},
    ]  # fmt: skip


def test_severity_decides_the_order_then_the_count() -> None:
    alerts = parse_alertmanager([
        _raw("SinkFlushSlow", "warning", instance="w1"), _raw("SinkFlushSlow", "warning", instance="w2"),
        _raw("Odd", "info"), _raw("DeadLetterSpike", "warning"), _raw("WorkerDown", "page", instance="w3"),
        _raw("Broken", "critical"),
    ])  # fmt: skip
    names = [(g["name"], g["count"]) for g in grouped(alerts)]
    assert names == [("Broken", 1), ("WorkerDown", 1), ("SinkFlushSlow", 2), ("DeadLetterSpike", 1),
                     ("Odd", 1)]  # fmt: skip


def test_the_subject_is_the_label_that_tells_alerts_of_a_name_apart() -> None:
    alerts = parse_alertmanager([
        _raw("TeamNotDialing", "page", team="team-02"), _raw("PipelineStalled", "page", instance="w1:8000"),
        _raw("NoWorkerRunning", "page"),
    ])  # fmt: skip
    assert {g["name"]: g["subjects"] for g in grouped(alerts)} == {
        "TeamNotDialing": ["team-02"], "PipelineStalled": ["w1:8000"], "NoWorkerRunning": []}
