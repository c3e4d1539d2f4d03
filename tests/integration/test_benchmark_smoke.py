"""The pipeline benchmarks run at tiny sizes so they do not rot; no timing is asserted.

Each benchmark starts its own broker, embedded ClickHouse and workers (and stops them), so
these need the real services like every integration test, but no fixture from conftest.
"""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

pytestmark = pytest.mark.integration

CONDITIONS = {"cores", "loadavg_1m", "python", "faust", "chdb", "partitions"}


def run_benchmark(name: str, *args: str) -> list[dict]:
    argv = [sys.executable, "-m", f"benchmarks.{name}", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, f"{name} failed:\n{done.stderr[-3000:]}"
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert lines and all(line["bench"] == name for line in lines)
    for line in lines:
        assert line.keys() >= CONDITIONS, f"conditions missing in {line}"
    return lines


def test_throughput_benchmark_runs() -> None:
    produce, worker, naive, ratio = run_benchmark("throughput", "--events", "2000", "--reps", "20")
    assert produce["events"] == 2000 and produce["events_per_s"] > 0
    for line in (worker, naive):
        assert {"events_per_s", "steady_events_per_s", "all_rows_s", "committed_s", "cpu_s",
                "peak_rss_mib"} <= line.keys()  # fmt: skip
    assert worker["what"] == "callfloor worker" and naive["what"].startswith("baseline")
    assert {"events_per_s", "steady_events_per_s", "events_per_worker_cpu_s"} <= ratio.keys()


def test_latency_benchmark_runs() -> None:
    lines = run_benchmark("latency", "--rate", "300", "--seconds", "5", "--warmup", "1", "--reps", "20")
    assert [line["what"].split(" ")[0] for line in lines] == ["produce", "produce", "baseline:"]
    for line in lines:
        assert line["n"] > 0 and {"p50_s", "p99_s", "max_s", "rate", "achieved_rate"} <= line.keys()


def test_memory_benchmark_runs() -> None:
    idle, drained, reseeded = run_benchmark("memory", "--reps", "50", "--calls", "2000", "--settle", "0.5")
    assert idle["rss_mib"] > 0 and idle["what"].startswith("baseline")
    assert {"rss_mib", "peak_rss_mib", "bytes_per_call"} <= drained.keys()
    assert {"rss_mib", "bytes_per_call", "restart_to_seeded_s"} <= reseeded.keys()


def test_scaling_benchmark_runs() -> None:
    one, two, ratio = run_benchmark("scaling", "--events", "2000", "--reps", "20")
    assert one["workers"] == 1 and two["workers"] == 2 and len(two["peak_rss_mib"]) == 2
    assert "events_per_s" in ratio


def test_catchup_benchmark_runs() -> None:
    produce, drain, ratio = run_benchmark("catchup", "--events", "2000", "--reps", "20")
    assert produce["what"].startswith("baseline") and produce["events"] == 2000
    assert {"committed_s", "wall_events_per_s", "deciles_events_per_s", "peak_rss_mib"} <= drain.keys()
    assert len(drain["deciles_events_per_s"]) == 10 and "events_per_s" in ratio


def test_wallboard_benchmark_runs() -> None:
    screen, browser, metrics, published, on_topic, cpu = run_benchmark(
        "wallboard", "--rate", "300", "--seconds", "4", "--warmup", "1", "--reps", "20", "--screens", "3",
        "--browsers", "1",
    )  # fmt: skip
    assert screen["what"].startswith("produce") and metrics["what"].startswith("baseline")
    assert "Chromium" in browser["what"] and browser["n"] < screen["n"]
    assert published["what"].startswith("where") and on_topic["what"].startswith("where")
    for line in (screen, browser, metrics, published, on_topic):
        assert line["n"] > 0 and {"p50_s", "p99_s", "max_s", "screens"} <= line.keys()
    assert {"cpu_per_screen_percent", "baseline_cpu_no_screen_percent"} <= cpu.keys()


def test_page_cost_benchmark_runs() -> None:
    argv = [sys.executable, "-m", "benchmarks.page_cost", "--reps", "20", "--seconds", "2"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-3000:]
    moving, still = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert moving["what"].startswith("the page") and still["what"].startswith("baseline")
    for line in (moving, still):
        assert {"chromium_cpu_percent", "task_s_per_s", "layout_s_per_s", "layouts_per_s"} <= line.keys()
    assert moving["layouts_per_s"] > still["layouts_per_s"], "the moving floor did not redraw the page"


def test_endpoint_requests_benchmark_runs() -> None:
    argv = [sys.executable, "-m", "benchmarks.endpoint_requests", "--requests", "10", "--rows", "200"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    kinds = [line["what"].split(" ")[0] for line in lines]
    assert kinds == ["baseline:", "fresh", "SELECT", "SELECT", "insert", "insert"]
    engines = [line["what"].rsplit(", ", 1)[1] for line in lines[2:]]
    assert engines == ["engine in-process (before the sandbox)", "sandboxed engine process"] * 2
    assert all(line["median_ms"] > 0 and {"cores", "loadavg_1m", "chdb"} <= line.keys() for line in lines)


def test_payroll_benchmark_runs() -> None:
    lines = run_benchmark("payroll", "--calls", "20000", "--reps", "50", "--repeat", "1", "--grow")
    found = {(line["layout"], line["history_months"], line["what"]): line["rows"] for line in lines}
    assert len(found) == len(lines) == 2 * 2 * 5 and all(line["seconds"] > 0 for line in lines)
    for (layout, months, what), rows in found.items():  # both layouts read the same rows
        assert rows == found[("unpartitioned (before)", months, what)], (layout, months, what)
    assert found[("by month (today)", 24, "payroll for the month (read + targets + statements)")] >= 50


def test_exact_winners_benchmark_runs() -> None:
    lines = run_benchmark("exact_winners", "--calls", "20000", "--reps", "50", "--repeat", "1")
    assert len(lines) == 4 and all(line["same_rows_as_baseline"] and line["rows"] > 0 for line in lines)


def test_broker_cost_benchmark_runs() -> None:
    baseline, other = run_benchmark(
        "broker_cost", "--rate", "300", "--seconds", "3", "--linger-ms", "20", "5"
    )
    assert baseline["what"].startswith("baseline") and (baseline["linger_ms"], other["linger_ms"]) == (20, 5)
    for line in (baseline, other):
        assert line["sent"] == 900 and line["reader_p50_s"] is not None
        assert {"broker_cpu_percent", "first_third_cpu_percent", "last_third_cpu_percent"} <= line.keys()
