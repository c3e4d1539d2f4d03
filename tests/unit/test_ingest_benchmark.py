"""The ingest benchmark runs at a tiny size so it does not rot; no timing is asserted."""

from __future__ import annotations

import subprocess
import sys

import orjson


def test_ingest_benchmark_runs_without_a_broker() -> None:
    argv = [sys.executable, "-m", "benchmarks.ingest", "--rows", "300", "--no-broker"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert [line["what"] for line in lines] == ["csv module alone (baseline)", "map"]
    assert lines[0]["rows"] == 300 and lines[1]["calls_produced"] == lines[0]["calls"] > 0
    assert lines[1]["rejects"] == 0 and lines[1]["ratio"] is not None
