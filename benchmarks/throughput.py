"""How fast does one worker drain a backlog of CDRs into ClickHouse?

Produces N simulated CDRs (one business day, no faults) to a fresh topic, then lets
``callfloor worker`` drain them: from its first written batch until ClickHouse holds every
call and the group has committed every offset. Baseline in the same run, on the same topic
with another consumer group: the naive Faust agent of ``benchmarks/naive_agent.py`` (one
event at a time, a Faust table updated per event, rows inserted once a second).
Prints one JSON line per measurement; progress goes to stderr.

    .venv/bin/python -m benchmarks.throughput --events 200000
    .venv/bin/python -m benchmarks.throughput --profile /tmp/worker.raw   # py-spy the worker
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.harness import (
    Produced,
    Stack,
    add_sink_arguments,
    conditions,
    distinct_calls,
    emit,
    main_guard,
    mib,
    note,
    produce_spec,
    profile_summary,
    py_spy,
    ratio,
    sink_overrides,
    wait_drained,
)
from simulator import SimulationSpec
from tests.support.processes import Worker


def drain_with(stack: Stack, worker: Worker, produced: Produced, profile: Path | None = None) -> dict:
    """Wait for ``worker`` to drain ``produced``; its figures, CPU and memory."""
    table = f"{worker.settings.clickhouse_database}.calls"
    with py_spy(worker.pid, profile):
        drain = wait_drained(stack, [worker], produced, table)
    stored = distinct_calls(stack, table)
    if stored != produced.events:
        raise RuntimeError(f"{worker.name}: {stored} calls in ClickHouse, {produced.events} produced")
    memory = {"rss_mib": mib(worker.rss_bytes()), "peak_rss_mib": mib(worker.peak_rss_bytes())}
    return {**drain.figures(), **memory}


def run(args: argparse.Namespace) -> None:
    spec = SimulationSpec(reps=args.reps, calls=args.events, days=1, seed=args.seed)
    with Stack("throughput", partitions=args.partitions) as stack:
        base = stack.settings("worker", **sink_overrides(args))
        produced = produce_spec(base, spec)
        cond = conditions(events=produced.events, partitions=args.partitions, reps=args.reps,
                          batch_rows=base.sink_batch_rows, flush_seconds=base.sink_flush_seconds)  # fmt: skip
        emit("throughput", "produce (kafka-python, simulator.produce)",
             seconds=round(produced.seconds, 1), events_per_s=produced.events_per_s, **cond)  # fmt: skip

        note("draining with callfloor worker")
        worker = stack.worker(base, "worker")
        ours = drain_with(stack, worker, produced, args.profile)
        stack.stop(worker)
        emit("throughput", "callfloor worker", **ours, **cond)
        if args.profile:
            emit("throughput", "py-spy profile of callfloor worker while draining",
                 raw=str(args.profile), **profile_summary(args.profile), **cond)  # fmt: skip
        if args.no_baseline:
            return

        note("draining with the naive agent (baseline)")
        naive_argv = [sys.executable, "-m", "benchmarks.naive_agent"]
        naive = stack.start("naive", naive_argv, stack.settings("naive"))
        theirs = drain_with(stack, naive, produced)
        stack.stop(naive)
        emit("throughput", "baseline: naive Faust agent (per event, Faust table, insert every 1 s)",
             **theirs, **cond)  # fmt: skip
        emit("throughput", "ratio worker / naive",
             **{k: ratio(ours[k], theirs[k]) for k in ("events_per_s", "steady_events_per_s",
                                                       "events_per_worker_cpu_s")},
             **cond)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="CDRs to produce and drain")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    add_sink_arguments(parser)
    parser.add_argument("--profile", type=Path, help="py-spy the worker; collapsed stacks to this file")
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive agent")
    args = parser.parse_args()
    main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
