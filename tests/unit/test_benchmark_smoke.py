"""Benchmarks run at tiny sizes so they do not rot; no timing is asserted."""

from __future__ import annotations

import subprocess
import sys

import orjson


def test_scrape_cardinality_benchmark_runs() -> None:
    argv = [sys.executable, "-m", "benchmarks.scrape_cardinality", "--reps", "20", "--runs", "1"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    whats = [line["what"].split(",")[0].split(":")[0] for line in lines]
    assert whats == ["live collector", "baseline", "baseline"]
    assert lines[0]["series"] > 20 * 12 and "ratio" in lines[1] and "ratio" in lines[2]
    assert lines[0]["bytes"] == lines[1]["bytes"], "the worker's scrape differs from generate_latest's"


def test_cdr_checks_benchmark_runs() -> None:
    argv = [sys.executable, "-m", "benchmarks.cdr_checks", "--events", "300", "--runs", "1"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=True)
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert [line["what"] for line in lines] == ["ascii ids", "cjk/full-width ids"]
    assert all(line["us_per_cdr"] > 0 and line["baseline_us_per_cdr"] > 0 for line in lines)
