"""How long does a worker take to catch up on a large backlog, and how much memory?

Produces a backlog of N CDRs (one business day) before any worker runs, then starts one
``callfloor worker`` and times the drain: from its start to every row in ClickHouse and every
offset committed, events/s per tenth of the backlog (does the pace fall as the live state
grows?) and its peak RSS (VmHWM). Baseline in the same run: producing that backlog with
kafka-python (``simulator.produce``), the rate a dialer-side producer reaches here.

    .venv/bin/python -m benchmarks.catchup --events 1000000
"""

from __future__ import annotations

import argparse

from benchmarks.harness import (
    RssSampler,
    Stack,
    conditions,
    distinct_calls,
    emit,
    main_guard,
    mib,
    note,
    produce_spec,
    rate,
    ratio,
    wait_drained,
)
from simulator import SimulationSpec


def run(args: argparse.Namespace) -> None:
    spec = SimulationSpec(reps=args.reps, calls=args.events, days=1, seed=args.seed)
    with Stack("catchup", partitions=args.partitions) as stack:
        settings = stack.settings("catchup")
        produced = produce_spec(settings, spec)
        cond = conditions(events=produced.events, partitions=args.partitions, reps=args.reps)
        emit("catchup", "baseline: producing the backlog (kafka-python)", seconds=round(produced.seconds, 1),
             events_per_s=produced.events_per_s, **cond)  # fmt: skip

        note(f"catching up on {produced.events:,} CDRs")
        worker = stack.worker(settings, "catchup")
        table = f"{settings.clickhouse_database}.calls"
        with RssSampler([worker.pid]) as sampler:
            drain = wait_drained(stack, [worker], produced, table)
        if (stored := distinct_calls(stack, table)) != produced.events:
            raise RuntimeError(f"{stored} calls in ClickHouse, {produced.events} produced")
        figures = drain.figures()
        assert drain.committed_s is not None
        emit("catchup", "callfloor worker draining the backlog", **figures,
             wall_events_per_s=rate(produced.events, drain.committed_s), deciles_events_per_s=drain.deciles(),
             peak_rss_mib=mib(worker.peak_rss_bytes()),
             sampled_peak_rss_mib=mib(sampler.peak_sampled(worker.pid)),
             rss_mib=mib(worker.rss_bytes()), **cond)  # fmt: skip
        emit("catchup", "ratio drain / produce", events_per_s=ratio(figures["events_per_s"],
             produced.events_per_s), **cond)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000, help="backlog size (the issue asks 1,000,000)")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
