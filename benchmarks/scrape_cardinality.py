"""How big and how slow is /metrics for a large floor?

Builds the live state of N reps (one business day of calls each), a targets file for all of
them, and times what a Prometheus scrape renders: the worker's way (rep series written by
``render_rep_series``, the rest by ``generate_latest``) and, in the same run, two baselines:
``generate_latest`` over the whole collector (how /metrics was written before), and the
same series held in plain prometheus_client labelled Gauges (what a per-event exporter
would keep). Prints one JSON line per measurement.

    .venv/bin/python -m benchmarks.scrape_cardinality --reps 5000
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from schemas.kpis import Contribution, business_day
from schemas.settings import Settings
from schemas.targets import parse_targets
from streams.live_collector import LiveCollector
from streams.live_metrics import collect_scrape, render_scrape
from streams.live_state import CallFacts, LiveState


def floor_state(settings: Settings, reps: int, partitions: int) -> tuple[LiveState, list[str]]:
    today = business_day(datetime.now(UTC), settings.zone)
    state = LiveState(today=lambda: today)
    rep_ids = [f"rep-{i:05d}" for i in range(reps)]
    calls: dict[int, list[CallFacts]] = {p: [] for p in range(partitions)}
    for i, rep in enumerate(rep_ids):
        c = Contribution(dials=180, connects=18, valid_connects=9, talk_seconds=3000, wrap_seconds=600,
                         sales=1, revenue=129900, new_customers=1, abandoned=1)  # fmt: skip
        calls[i % partitions].append(CallFacts(f"c{i}", 1, rep, f"team-{i // 10:04d}", today, c.as_tuple()))
    for partition, facts in calls.items():
        state.seed(partition, facts)
    return state, rep_ids


def targets_yaml(rep_ids: list[str]) -> bytes:
    lines = ["version: 1", "defaults:", "  daily: {dials: 200, connects: 20, valid_connects: 10,"
             " talk_minutes: 60}", '  monthly: {sales: 20, revenue: "50000.00", new_customers: 8}',
             "reps:"]  # fmt: skip
    lines += [f"  {rep}: {{team: team-{i // 10:04d}}}" for i, rep in enumerate(rep_ids)]
    return ("\n".join(lines) + "\n").encode()


def timed(run: Callable[[], object], runs: int) -> tuple[float, int]:
    body = run()
    started = time.perf_counter()
    for _ in range(runs):
        body = run()
    return (time.perf_counter() - started) / runs, len(body) if isinstance(body, bytes) else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    settings = Settings()
    state, rep_ids = floor_state(settings, args.reps, args.partitions)
    targets = parse_targets(targets_yaml(rep_ids), "bench-targets.yaml")
    registry = CollectorRegistry()
    now = datetime.now(UTC)  # one instant for every scrape: their bytes compare exactly
    collector = LiveCollector(
        settings, state, exported_partitions=lambda: set(range(args.partitions)),
        partition_of=lambda rep: int(rep[4:]) % args.partitions, targets=lambda: targets,
        month_before_today=dict, campaign_abandons=dict, clock=lambda: now,
    )  # fmt: skip
    registry.register(collector)
    empty = CollectorRegistry()  # the collector's part of a scrape only, as the baselines

    def scrape() -> bytes:
        return render_scrape(*collect_scrape(empty, collector))

    seconds, size = timed(scrape, args.runs)
    collect_seconds, _ = timed(lambda: collect_scrape(empty, collector), args.runs)
    series = sum(1 for line in scrape().splitlines() if line and not line.startswith(b"#"))
    whole_seconds, whole_size = timed(lambda: generate_latest(registry), args.runs)
    whole_collect_seconds, _ = timed(lambda: list(registry.collect()), args.runs)

    baseline_registry = CollectorRegistry()
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        names = sorted({k for sample in family.samples for k in sample.labels})
        gauge = Gauge(family.name, family.documentation or "baseline", names, registry=baseline_registry)
        for sample in family.samples:
            (gauge.labels(**sample.labels) if names else gauge).set(sample.value)
    base_seconds, base_size = timed(lambda: generate_latest(baseline_registry), args.runs)

    conditions = {"reps": args.reps, "partitions": args.partitions, "cores": os.cpu_count(),
                  "python": platform.python_version()}  # fmt: skip
    figures = {"series": series, "bytes": size, "seconds": round(seconds, 4),
               "on_event_loop_seconds": round(collect_seconds, 4)}  # fmt: skip
    print(orjson.dumps({"bench": "scrape", "what": "live collector, as /metrics writes it", **figures,
                        **conditions}).decode())  # fmt: skip
    print(orjson.dumps({"bench": "scrape", "what": "baseline: generate_latest over the whole collector",
                        "bytes": whole_size, "seconds": round(whole_seconds, 4),
                        "on_event_loop_seconds": round(whole_collect_seconds, 4),
                        "ratio": round(seconds / whole_seconds, 3), **conditions}).decode())  # fmt: skip
    print(orjson.dumps({"bench": "scrape", "what": "baseline: the same series as labelled Gauges",
                        "bytes": base_size, "seconds": round(base_seconds, 4),
                        "ratio": round(seconds / base_seconds, 2), **conditions}).decode())  # fmt: skip


if __name__ == "__main__":
    main()
