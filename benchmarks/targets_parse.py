"""How long does a big targets file take to parse and validate?

In-process, no services: ``parse_targets`` over a generated file of ``--reps`` reps (each with
a team and a daily target), with libyaml's parser (what ``schemas/yaml_document.py`` uses when
PyYAML has it) against a baseline in the same run: the same loader on PyYAML's pure-Python
parser (what it used before). The worker parses the file in a thread on every change, so this
is how long a new file takes to reach the gauges. Best of ``--runs``, interleaved.

    .venv/bin/python -m benchmarks.targets_parse --reps 10000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager

import yaml

from benchmarks.harness import conditions, emit, ratio
from schemas import yaml_document
from schemas.targets import parse_targets


def targets_file(reps: int) -> bytes:
    head = (
        "version: 1\ndefaults: {daily: {connects: 3, valid_connects: 2, talk_minutes: 10}, "
        'monthly: {revenue: "3000.00", new_customers: 1}}\nreps:\n'
    )
    rep = "  rep-{i:05d}: {{team: team-{team:04d}, daily: {{dials: {dials}}}}}\n"
    rows = (rep.format(i=i, team=i // 10, dials=100 + i % 300) for i in range(reps))
    return (head + "".join(rows)).encode()


@contextmanager
def pure_python_parser() -> Iterator[None]:
    """The project's loader, rebased on PyYAML's pure-Python SafeLoader, for the baseline."""
    current = yaml_document._Loader
    pure = type("PureLoader", (yaml.SafeLoader,), {"construct_mapping": current.construct_mapping})
    yaml_document._Loader = pure
    try:
        yield
    finally:
        yaml_document._Loader = current


def seconds_to_parse(data: bytes, *, pure: bool) -> float:
    start = time.perf_counter()
    if pure:
        with pure_python_parser():
            parse_targets(data, "bench-targets.yaml")
    else:
        parse_targets(data, "bench-targets.yaml")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = targets_file(args.reps)
    cond = conditions(reps=args.reps, bytes=len(data), runs=args.runs, libyaml=yaml.__with_libyaml__)
    pure = fast = float("inf")
    for _ in range(args.runs):  # interleaved, so load changes hit both alike
        pure = min(pure, seconds_to_parse(data, pure=True))
        fast = min(fast, seconds_to_parse(data, pure=False))
    emit("targets_parse", "baseline: pure-Python YAML parser", seconds=round(pure, 3), **cond)
    emit("targets_parse", "libyaml parser (what the worker uses)", seconds=round(fast, 3),
         speedup=ratio(pure, fast), **cond)  # fmt: skip


if __name__ == "__main__":
    main()
