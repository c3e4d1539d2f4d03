"""The worker reloads its targets file without a restart, refuses a broken one, and records
every version it put in force in ClickHouse."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from schemas.settings import Settings
from sinks.clickhouse.client import connect
from sinks.clickhouse.targets import list_versions
from streams.topics import ensure_topics
from tests.support.processes import running_worker
from tests.support.scrape import samples
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def targets(dials: int) -> str:
    return f"version: 1\nreps:\n  rep-7: {{team: team-x, daily: {{dials: {dials}}}}}\n"


def rep_target(port: int) -> float | None:
    for (name, labels), value in samples(port).items():
        if name == "callfloor_rep_target" and dict(labels).get("rep") == "rep-7":
            return value
    return None


def save(path: Path, text: str) -> None:
    """Write a copy, then rename it over the file, as the docs advise."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_targets_reload_refuse_and_history(settings: Settings, tmp_path: Path, worker_log: Path) -> None:
    ensure_topics(settings)
    path = tmp_path / "targets.yaml"
    path.write_text(targets(120))
    settings = settings.model_copy(update={"targets_file": path})
    with running_worker(settings, worker_log):
        wait_for(lambda: rep_target(settings.web_port) == 120, 90, "the first targets on /metrics")
        save(path, targets(150))
        wait_for(lambda: rep_target(settings.web_port) == 150, 30, "the edited target, no restart")
        save(path, targets(150).replace("dials: 150", "dials: -1"))
        wait_for(lambda: samples(settings.web_port).get(("callfloor_targets_valid", ())) == 0, 30,
                   "the broken file to be refused")  # fmt: skip
        assert rep_target(settings.web_port) == 150, "the previous targets stay in force"
        with connect(settings) as client:
            try:
                wait_for(lambda: len(list_versions(client)) == 2, 30, "both versions in ClickHouse")
            except AssertionError as exc:
                raise AssertionError(f"{exc}: {list_versions(client)}") from None
