"""``callfloor simulate``: arguments in, simulated traffic to Kafka, truth file out."""

from __future__ import annotations

import argparse
import sys

from schemas.settings import Settings
from simulator import SimulationSpec, produce
from streams.kafka_config import KafkaAccessError
from streams.topics import TopicsError, ensure_topics


def run_simulate(settings: Settings, args: argparse.Namespace) -> int:
    try:
        spec = SimulationSpec(
            reps=args.reps, calls=args.calls, days=args.days, rate=args.rate, seed=args.seed,
            duplicates=args.duplicates, corrections=args.corrections, bad=args.bad, late=args.late,
            live=args.live or args.calls == 0, timezone=settings.timezone,
            valid_call_seconds=settings.valid_call_seconds,
        )  # fmt: skip
    except ValueError as exc:
        print(f"callfloor simulate: {exc}", file=sys.stderr)
        return 2
    try:
        ensure_topics(settings)
    except (KafkaAccessError, TopicsError) as exc:  # a refused certificate or login, too few brokers
        print(f"callfloor simulate: {exc}", file=sys.stderr)
        return 1
    target = f"{settings.kafka_bootstrap} topic {settings.cdr_topic}"
    print(f"simulating {spec.reps} reps, {spec.calls or 'unlimited'} calls -> {target}", file=sys.stderr)

    def progress(sent: int) -> None:
        print(f"  sent {sent} events", file=sys.stderr, flush=True)

    truth = produce(spec, settings, progress)
    if args.truth:
        truth.write(args.truth)
    totals = truth.totals
    summary = (f"sent {truth.produced} events ({truth.kinds}); {totals['call_ids']} distinct calls, "
               f"{totals['dials']} dials, {totals['connects']} connects")  # fmt: skip
    if args.truth:
        summary += f"; truth in {args.truth}"
    if not truth.complete:
        summary += " (stopped early: the truth covers what was sent)"
    print(summary, file=sys.stderr)
    return 0
