"""Do two workers drain a backlog faster than one?

Produces N CDRs once to a topic of ``--partitions`` partitions, then drains it with one
``callfloor worker`` (group A), then with two started together (group B, same topic, its
own ClickHouse database): events/s of each, CPU per process, and the ratio. The baseline
is the one-worker run. On a machine with few cores the workers, the broker and ClickHouse
share them: read the ratio with ``cores`` and the ``cpu_s`` per process beside it.

    .venv/bin/python -m benchmarks.scaling --events 200000
"""

from __future__ import annotations

import argparse

from benchmarks.harness import (
    Stack,
    conditions,
    distinct_calls,
    emit,
    main_guard,
    mib,
    note,
    produce_spec,
    ratio,
    wait_drained,
)
from simulator import SimulationSpec
from tests.support.ports import free_port


def run(args: argparse.Namespace) -> None:
    spec = SimulationSpec(reps=args.reps, calls=args.events, days=1, seed=args.seed)
    with Stack("scaling", partitions=args.partitions) as stack:
        produced = produce_spec(stack.settings("produce"), spec)
        cond = conditions(events=produced.events, partitions=args.partitions, reps=args.reps)
        results = {}
        for n in (1, 2):
            settings = stack.settings(f"w{n}")
            note(f"draining with {n} worker(s)")
            workers = [stack.worker(settings.model_copy(update={"web_port": free_port()}), f"w{n}-{i}")
                       for i in range(n)]  # fmt: skip
            table = f"{settings.clickhouse_database}.calls"
            drain = wait_drained(stack, workers, produced, table)
            if (stored := distinct_calls(stack, table)) != produced.events:
                raise RuntimeError(f"{n} workers: {stored} calls in ClickHouse, {produced.events} produced")
            results[n] = drain.figures()
            peaks = {w.name: mib(w.peak_rss_bytes()) for w in workers}
            for worker in workers:
                stack.stop(worker)
            what = "baseline: 1 worker" if n == 1 else f"{n} workers"
            emit("scaling", what, workers=n, **results[n], peak_rss_mib=peaks, **cond)
        emit("scaling", "ratio 2 workers / 1 worker",
             **{k: ratio(results[2][k], results[1][k]) for k in ("events_per_s", "steady_events_per_s")},
             **cond)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
