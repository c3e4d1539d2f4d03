"""benchmarks/live_ingest.py at tiny sizes, so it does not rot; no timing is asserted."""

from __future__ import annotations

import pytest

from tests.integration.test_benchmark_smoke import run_benchmark

pytestmark = pytest.mark.integration


def test_live_ingest_benchmark_runs() -> None:
    baseline, pushed, rows = run_benchmark(
        "live_ingest", "--rate", "100", "--push-rate", "100", "--senders", "4", "--db-rate", "20",
        "--seconds", "3", "--warmup", "0.5", "--reps", "10",
    )  # fmt: skip
    assert baseline["what"].startswith("baseline")
    assert "--listen" in pushed["what"] and "vicidial-db" in rows["what"]
    for line in (baseline, pushed, rows):
        assert line["n"] > 0 and {"p50_s", "p99_s", "max_s", "rate"} <= line.keys()
    assert pushed["post_round_trip"]["p99_s"] > 0 and pushed["listener_cpu_ms_per_cdr"] > 0
    assert pushed["senders"] == 4 and pushed["statuses"] == {"200": 301}, "every POST stored"
    assert rows["poll_s"] == 0.5
