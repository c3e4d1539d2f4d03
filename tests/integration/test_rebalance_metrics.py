"""Several workers: each rep is exported by exactly one, and after a worker leaves, the
survivor exports its reps with values equal to ClickHouse within seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.kpis import business_day
from schemas.settings import Settings
from simulator import SimulationSpec, produce
from streams.topics import ensure_topics
from tests.support.daytime import in_daytime_zone
from tests.support.kafka import lag
from tests.support.ports import free_port
from tests.support.processes import running_worker
from tests.support.scrape import rep_actuals
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def test_reps_split_between_two_workers_then_move_to_the_survivor(
    settings: Settings, logs_dir: Path
) -> None:
    settings = in_daytime_zone(settings)
    ensure_topics(settings)
    spec = SimulationSpec(reps=24, calls=3_000, days=1, seed=5, duplicates=0.03, corrections=0.03,
                          timezone=settings.timezone)  # fmt: skip
    truth = produce(spec, settings)
    today = business_day(datetime.now(UTC), settings.zone).isoformat()
    expected = {r["rep_id"]: float(r["dials"]) for r in truth.calls.values() if r["business_day"] == today}
    second = settings.model_copy(update={"web_port": free_port()})

    with running_worker(settings, logs_dir / "rebalance-a.log"):
        with running_worker(second, logs_dir / "rebalance-b.log"):
            wait_for(lambda: lag(settings.kafka_bootstrap, settings.app_id, settings.cdr_topic) == 0,
                       180, "both workers to drain", every_s=2)  # fmt: skip

            def split_exactly() -> bool:
                a, b = rep_actuals(settings.web_port), rep_actuals(second.web_port)
                return bool(a) and bool(b) and not (a.keys() & b.keys()) and a | b == expected

            wait_for(split_exactly, 120, "the reps to be split between the two workers, once each")
            a, b = rep_actuals(settings.web_port), rep_actuals(second.web_port)
            assert not (a.keys() & b.keys()), f"reps exported twice: {sorted(a.keys() & b.keys())}"
            assert a | b == expected
        # worker b stopped: its partitions, and their reps, move to worker a
        wait_for(lambda: rep_actuals(settings.web_port) == expected, 120,
                   "the surviving worker to export every rep with ClickHouse's values")  # fmt: skip
