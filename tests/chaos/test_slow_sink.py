"""Scenario 7: a slow ClickHouse (every query and insert answered 1 s late).

A backlog far larger than a batch piles up in Kafka while each write crawls. The worker
must stay in its group (one join, generation unchanged: no rebalance storm from a slow
batch), keep its memory bounded (VmRSS sampled all along; the consumer stops fetching
when its buffers are full instead of pulling the backlog into memory) and still end exact.

The memory bound: RSS of the same worker when idle and ready (baseline, measured in this
run) plus 160 MiB. On top of its baseline a worker legitimately holds the events in flight
-- Faust's stream buffer (stream_buffer_maxsize 4,096 events per partition, 4 partitions
here), one batch being written (5,000 events, their rows, the insert payload) and
aiokafka's fetch buffers (1 MiB per partition) -- about 21,000 events at ~4 KiB each as
Python objects, ~85 MiB; plus the live state, which keeps every call of today and
yesterday (~0.4 KiB per call, ~16 MiB here). Measured here: +110-130 MiB, flat once the
buffers are full. The backlog (40,000 events, twice what can be in flight) would need
~160 MiB more if the consumer pulled it all in, so a consumer without back-pressure fails
the bound; and RSS must not keep growing while the backlog drains (``growth_while_draining``:
at most 48 MiB, i.e. the live state of the calls processed meanwhile plus slack).
"""

from __future__ import annotations

import threading
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
    group_generations,
    keyed,
    stored_calls,
    wait_drained,
)
from tests.support.cli import report
from tests.support.processes import ClickHouseProcess, Worker
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

LIVE_STATE_KIB_PER_CALL = 1.0  # measured about 0.64 KiB per call; 1 KiB leaves room
DELAY_MS = 1_000
RSS_ALLOWANCE_MIB = 160
SPEC = SimulationSpec(reps=30, calls=40_000, days=1, seed=77, duplicates=0.01, corrections=0.01)


@pytest.mark.chaos_timeout(180)
def test_slow_clickhouse_no_rebalance_storm_and_bounded_memory(
    make_settings: Callable[..., Settings], procs: Processes, scenario_logs: Path, tmp_path: Path
) -> None:
    server = ClickHouseProcess(tmp_path / "chdata", scenario_logs / "clickhouse.log", delay_ms=DELAY_MS)
    procs.add(server)
    server.start()
    settings = make_settings(clickhouse_url=server.url)
    ensure_topics(settings)
    worker = procs.add(Worker(settings, scenario_logs / "worker.log")).start()
    wait_for(lambda: worker.log().count("live state seeded") >= settings.partitions, 90,
             "the worker to be ready (all partitions seeded through the slow ClickHouse)")  # fmt: skip
    baseline = worker.rss_bytes() // 1024

    samples: list[tuple[float, int]] = []  # (seconds since traffic started, VmRSS KiB)
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.5):
            if worker.alive():
                samples.append((time.monotonic() - started, worker.rss_bytes() // 1024))

    started = time.monotonic()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    procs.defer(sampling.set)
    sender = BackgroundProducer(
        lambda stop: produce(SPEC, settings, stop=stop)
    )
    sender.start()
    procs.defer(sender.stop_event.set)
    truth = sender.outcome(timeout_s=90)
    produced_s = time.monotonic() - started
    wait_drained(settings, 150, [worker])
    drained_s = time.monotonic() - started
    sampling.set()
    sampler.join(5)

    log = worker.log()
    joins, rejoins = group_generations(log), log.count("(Re-)joining group")
    peak = max((rss for _, rss in samples), default=baseline)
    at_backlog_peak = max((rss for t, rss in samples if t <= produced_s), default=baseline)
    growth_while_draining = peak - at_backlog_peak
    (scenario_logs / "rss.tsv").write_text("".join(f"{t:.1f}\t{rss}\n" for t, rss in samples))
    days = sorted({row["business_day"] for row in truth.calls.values()})
    expected, got = keyed(truth.calls.values()), keyed(report(settings, days[0], days[-1]))
    final, _ = stored_calls(settings)
    calls = truth.totals["call_ids"]
    chaos_line("slow_sink", events=truth.produced, faults=f"every ClickHouse request +{DELAY_MS}ms",
               produced_s=f"{produced_s:.0f}", drained_s=f"{drained_s:.0f}", joins=len(joins),
               rejoins=rejoins, rss_baseline_mib=baseline // 1024, rss_peak_mib=peak // 1024,
               rss_growth_while_draining_mib=growth_while_draining // 1024,
               rss_samples=len(samples), lost=max(0, calls - final), double=max(0, final - calls),
               mismatched_rows=len(differences(expected, got)))  # fmt: skip
    assert worker.alive() and worker.starts == 1
    assert len(joins) == 1 and rejoins == 1, f"the consumer left or rejoined its group: generations {joins}"
    assert len(samples) >= 10, "RSS should have been sampled all along"
    assert peak - baseline < RSS_ALLOWANCE_MIB * 1024, f"RSS grew from {baseline} KiB to {peak} KiB"
    # Draining adds each call to the live state (about 0.6 KiB a call, see benchmarks/memory):
    # growth beyond that and a fixed margin would be an unbounded buffer.
    state_kib = calls * LIVE_STATE_KIB_PER_CALL
    assert growth_while_draining < 48 * 1024 + state_kib, (
        f"RSS grew {growth_while_draining} KiB while the backlog drained, more than the live state "
        f"of {calls} calls ({state_kib:.0f} KiB) explains: {samples}"
    )
    assert differences(expected, got) == []
