"""A real Prometheus scrapes a real worker fed by the simulator; PromQL gives the truth."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlencode
from urllib.request import urlopen

import orjson
import pytest

from deploy.local.processes import spawn, stop
from schemas.kpis import business_day
from schemas.settings import Settings
from simulator import SimulationSpec, produce
from streams.topics import ensure_topics
from tests.support.daytime import in_daytime_zone
from tests.support.kafka import lag
from tests.support.ports import free_port
from tests.support.processes import running_worker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

PROMETHEUS = shutil.which("prometheus")


def start_prometheus(tmp: Path, target_port: int) -> tuple[subprocess.Popen[bytes], str]:
    assert PROMETHEUS, "Debian's prometheus is required: apt-get install -y prometheus"
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: callfloor\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
    )
    argv = [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    process = spawn(argv, {}, tmp / "prometheus.log")
    return process, f"http://127.0.0.1:{port}"


METRICS_PAGE = (Path(__file__).parents[2] / "docs" / "ops" / "metrics.md").read_text(encoding="utf-8")


def documented_name(series: str) -> str:
    """The family a series belongs to, as the docs name it (``_total`` kept for counters,
    a histogram by its family name, client_python's ``_created`` folded into its counter)."""
    for suffix in ("_bucket", "_count", "_sum", "_created"):
        if series.endswith(suffix):
            base = series.removesuffix(suffix)
            return base + "_total" if suffix == "_created" and base + "_total" in METRICS_PAGE else base
    return series


def promql(base: str, query: str) -> list[dict]:
    with urlopen(f"{base}/api/v1/query?{urlencode({'query': query})}", timeout=10) as response:
        reply = orjson.loads(response.read())
    assert reply["status"] == "success", reply
    return reply["data"]["result"]


def test_prometheus_team_dials_equal_truth_for_today(
    settings: Settings, worker_log: Path, tmp_path: Path
) -> None:
    settings = in_daytime_zone(settings)
    ensure_topics(settings)
    spec = SimulationSpec(reps=30, calls=4_000, days=1, seed=11, duplicates=0.02, corrections=0.02,
                          timezone=settings.timezone)  # fmt: skip
    truth = produce(spec, settings)
    today = business_day(datetime.now(UTC), settings.zone).isoformat()
    expected: Counter[str] = Counter()
    for row in truth.calls.values():
        if row["business_day"] == today:
            expected[row["team_id"]] += row["dials"]
    assert expected, "the simulator sends traffic for today"

    with running_worker(settings, worker_log):
        wait_for(lambda: lag(settings.kafka_bootstrap, settings.app_id, settings.cdr_topic) == 0,
                   180, "the worker to drain", every_s=2)  # fmt: skip
        prometheus, base = start_prometheus(tmp_path, settings.web_port)
        try:
            query = 'sum by (team) (callfloor_rep_actual{metric="dials", period="day"})'

            def scraped() -> dict[str, int]:
                try:
                    return {r["metric"]["team"]: int(float(r["value"][1])) for r in promql(base, query)}
                except (URLError, ConnectionError):
                    return {}

            wait_for(lambda: scraped() == dict(expected), 60, "Prometheus to show today's team dials")
            assert scraped() == dict(expected)
            up = promql(base, 'up{job="callfloor"}')
            assert [float(r["value"][1]) for r in up] == [1.0]

            # the 30-day abandon rate per campaign comes from ClickHouse, so it equals the truth
            abandons: Counter[str] = Counter()
            answers: Counter[str] = Counter()
            for row in truth.campaigns.values():
                abandons[row["campaign_id"]] += row["abandoned"]
                answers[row["campaign_id"]] += row["abandoned"] + row["connects"]
            want = {c: round(abandons[c] / answers[c], 9) for c in answers if answers[c]}

            def abandon_rates() -> dict[str, float]:
                found = promql(base, "callfloor_campaign_abandon_rate_30d")
                return {r["metric"]["campaign"]: round(float(r["value"][1]), 9) for r in found}

            wait_for(lambda: abandon_rates() == want, 60, "the 30-day abandon rates")

            # every series the worker exports is in the documented table (docs/ops/metrics.md)
            names = {r["metric"]["__name__"] for r in promql(base, '{__name__=~"callfloor_.*"}')}
            assert {n for n in names if documented_name(n) not in METRICS_PAGE} == set()
        finally:
            stop(prometheus)
