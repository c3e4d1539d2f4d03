"""Scenario 2: ClickHouse goes away for 20 s while CDRs keep flowing.

The ``callfloor clickhouse`` child process is stopped mid-stream and restarted on the same
data directory and port. Meanwhile the worker must back off and retry (its log says so),
stay up, and commit no offset past a row ClickHouse does not have: every committed offset
sampled during the outage is compared with ``max(kafka_offset)`` per partition of what
ClickHouse held when it went down (read from the stopped data directory through a second
server on another port, which the worker does not know). Then it catches up, exactly.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from schemas.settings import Settings
from simulator import SimulationSpec, produce
from streams.topics import ensure_topics
from tests.chaos.harness import (
    BackgroundProducer,
    Processes,
    chaos_line,
    differences,
    keyed,
    stored_calls,
    wait_drained,
    written_max_offsets,
)
from tests.support.cli import report
from tests.support.kafka import committed_offsets
from tests.support.processes import ClickHouseProcess, Worker
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

OUTAGE_S = 20.0
# No duplicates or corrections: a batch of nothing but duplicates writes no row and may
# rightly commit while ClickHouse is down, which would blur the offset check below.
SPEC = SimulationSpec(reps=20, calls=12_000, days=1, seed=2002, rate=400)


def rows_or_zero(settings: Settings) -> int:
    try:
        return stored_calls(settings)[0]
    except Exception:  # noqa: BLE001 - table not created yet
        return 0


@pytest.mark.chaos_timeout(180)
def test_clickhouse_down_for_20s_mid_stream(
    make_settings: Callable[..., Settings], procs: Processes, scenario_logs: Path, tmp_path: Path
) -> None:
    server = procs.add(ClickHouseProcess(tmp_path / "chdata", scenario_logs / "clickhouse.log"))
    server.start()
    settings = make_settings(clickhouse_url=server.url)
    ensure_topics(settings)
    worker = procs.add(Worker(settings, scenario_logs / "worker.log")).start()
    sender = BackgroundProducer(
        lambda stop: produce(SPEC, settings, stop=stop)
    )
    sender.start()
    procs.defer(sender.stop_event.set)

    wait_for(lambda: rows_or_zero(settings) >= 1_500, 90, "the worker to write its first rows")
    server.stop()  # SIGTERM: the HTTP server stops, the chdb session closes
    down_at = time.monotonic()
    log_mark = len(worker.log())

    samples: list[dict[int, int]] = []
    while time.monotonic() - down_at < OUTAGE_S:
        samples.append(committed_offsets(settings.kafka_bootstrap, settings.app_id, settings.cdr_topic))
        assert worker.alive(), f"the worker exited while ClickHouse was down; log {worker.log_path}"
        time.sleep(2.0)

    # What ClickHouse held when it went down, read while the worker still cannot reach it.
    probe = ClickHouseProcess(server.path, scenario_logs / "clickhouse-probe.log")
    probe.start()
    try:
        written = written_max_offsets(settings.model_copy(update={"clickhouse_url": probe.url}))
    finally:
        probe.stop()
    outage_log = worker.log()[log_mark:]
    server.start()  # same data directory, same port
    outage_s = time.monotonic() - down_at

    truth = sender.outcome(timeout_s=120)
    wait_drained(settings, 120, [worker])
    assert worker.starts == 1 and worker.alive(), "the worker must ride out the outage, not restart"

    # streams.retry logs a failure once per reason, then how many attempts it took once it recovered
    assert "ClickHouse write of" in outage_log and "retrying with backoff" in outage_log, (
        f"a batch write should have been retried during the outage:\n{outage_log[-3000:]}"
    )
    recovered = re.findall(r"ClickHouse write of \d+ rows succeeded after (\d+) failed attempts",
                           worker.log()[log_mark:])  # fmt: skip
    retries = max(map(int, recovered), default=0)
    assert retries >= 3, "the worker should have retried, then recovered"
    ahead = [
        (p, offset, written.get(p))
        for sample in samples
        for p, offset in sample.items()
        if offset > written.get(p, -1) + 1
    ]
    assert samples and not ahead, f"committed offsets passed rows ClickHouse did not have: {ahead[:5]}"
    assert any(samples[-1].values()), "offsets committed before the outage should be visible"

    days = sorted({row["business_day"] for row in truth.calls.values()})
    expected = keyed(truth.calls.values())
    got = keyed(report(settings, days[0], days[-1]))
    final, _ = stored_calls(settings)
    calls = truth.totals["call_ids"]
    chaos_line("clickhouse_outage", events=truth.produced, faults=f"ClickHouse down {outage_s:.0f}s",
               write_retries=retries, offset_samples=len(samples), offsets_ahead_of_rows=len(ahead),
               lost=max(0, calls - final), double=max(0, final - calls),
               mismatched_rows=len(differences(expected, got)))  # fmt: skip
    assert differences(expected, got) == []
