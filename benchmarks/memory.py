"""How much memory does a worker need for a floor's day?

Worker RSS (``/proc/<pid>/status``) in three states, in one run:
- baseline: an idle worker (started, partitions assigned, no data);
- after draining ``--calls`` CDRs of one business day over ``--reps`` reps (RSS then, and
  the peak while draining: VmHWM);
- a fresh worker on the same group and database, its live state seeded from ClickHouse
  (what a restart or rebalance costs), RSS once every partition is seeded.
Prints one JSON line per state; bytes per call are over the idle baseline.

    .venv/bin/python -m benchmarks.memory --reps 10000 --calls 1000000
"""

from __future__ import annotations

import argparse
import time

from benchmarks.harness import (
    RssSampler,
    Stack,
    conditions,
    emit,
    main_guard,
    mib,
    note,
    produce_spec,
    wait_assigned,
    wait_drained,
)
from simulator import SimulationSpec
from streams.topics import ensure_topics
from tests.support.processes import Worker
from tests.support.waiting import wait_for


def seeded_partitions(worker: Worker) -> int:
    """How many partitions the worker's log says were seeded from ClickHouse."""
    return worker.log_path.read_text(errors="replace").count("live state seeded with")


def run(args: argparse.Namespace) -> None:
    spec = SimulationSpec(reps=args.reps, calls=args.calls, days=1, seed=args.seed)
    with Stack("memory", partitions=args.partitions) as stack:
        idle_settings = stack.settings("idle", cdr_topic="bench.idle")
        ensure_topics(idle_settings)
        idle = stack.worker(idle_settings, "idle")
        wait_assigned([idle], args.partitions)
        time.sleep(args.settle)
        idle_rss = idle.rss_bytes()
        cond = conditions(calls=args.calls, reps=args.reps, partitions=args.partitions, days=1)
        emit("memory", "baseline: idle worker (assigned, no data)", rss_mib=mib(idle_rss),
             peak_rss_mib=mib(idle.peak_rss_bytes()), **cond)  # fmt: skip
        stack.stop(idle)

        settings = stack.settings("state")
        produced = produce_spec(settings, spec)
        worker = stack.worker(settings, "drain")
        with RssSampler([worker.pid]) as sampler:
            drain = wait_drained(stack, [worker], produced, f"{settings.clickhouse_database}.calls")
            time.sleep(args.settle)
        rss = worker.rss_bytes()
        emit("memory", f"after draining {produced.events:,} CDRs", rss_mib=mib(rss),
             peak_rss_mib=mib(worker.peak_rss_bytes()),
             sampled_peak_rss_mib=mib(sampler.peak_sampled(worker.pid)),
             bytes_per_call=round((rss - idle_rss) / produced.events), drain_s=drain.figures()["all_rows_s"],
             **cond)  # fmt: skip
        stack.stop(worker)

        note("restarting: a fresh worker seeds its live state from ClickHouse")
        fresh = stack.worker(settings, "reseeded", loglevel="info")
        wait_for(lambda: seeded_partitions(fresh) >= args.partitions, 600, "every partition to be seeded")
        seed_s = time.monotonic() - fresh.started
        time.sleep(args.settle)
        rss = fresh.rss_bytes()
        emit("memory", "restarted worker, live state seeded from ClickHouse", rss_mib=mib(rss),
             peak_rss_mib=mib(fresh.peak_rss_bytes()),
             bytes_per_call=round((rss - idle_rss) / produced.events),
             restart_to_seeded_s=round(seed_s, 1), **cond)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=300_000, help="CDRs of one business day")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to wait before reading RSS")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
