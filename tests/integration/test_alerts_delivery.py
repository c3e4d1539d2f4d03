"""Alerts reach someone, end to end: Debian's real Prometheus evaluates the project's rules
(deploy/prometheus/rules.yml, every duration divided by 60 with deploy/rule_timing.py: a minute
becomes a second) over a real worker fed by the simulator, and Debian's real Alertmanager, with
the project's routing (deploy/prometheus/alertmanager.yml, its placeholder URLs replaced as
compose does), posts to a webhook this test serves: TeamNotDialing when one team stops dialing,
WorkerDown when the worker is killed, NoWorkerRunning when discovery drops every worker."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from datetime import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import urlopen

import orjson
import pytest

from deploy.local.broker import wait_for_port
from deploy.local.processes import spawn, stop
from deploy.rule_timing import rules_at_pace
from schemas.settings import Settings
from simulator import SimulationSpec, produce
from streams.topics import ensure_topics
from tests.support.daytime import in_daytime_zone
from tests.support.ports import free_port
from tests.support.processes import Worker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
ROUTING = ROOT / "deploy" / "prometheus" / "alertmanager.yml"
PLACEHOLDER = re.compile(r"http://127\.0\.0\.1:5001/callfloor/[a-z-]*")  # what compose replaces
PACE = 60  # rule durations divided by this
SILENT_TEAM = "team-02"


class Webhook:
    """An HTTP receiver like a chat bridge: keeps every alert Alertmanager posts."""

    def __init__(self) -> None:
        self.alerts: list[dict] = []
        received = self.alerts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.extend({**a, "receiver": body["receiver"]} for a in body["alerts"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def firing(self, alertname: str, **labels: str) -> list[dict]:
        return [a for a in self.alerts if a["status"] == "firing" and a["labels"]["alertname"] == alertname
                and all(a["labels"].get(k) == v for k, v in labels.items())]  # fmt: skip


def promql(port: int, query: str) -> list[dict]:
    with urlopen(f"http://127.0.0.1:{port}/api/v1/query?{urlencode({'query': query})}", timeout=10) as reply:
        answer = orjson.loads(reply.read())
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


def binary(name: str, package: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} missing: `make system-deps` installs Debian's {package}"
    return found


def test_team_not_dialing_worker_down_and_no_worker_reach_the_webhook(
    settings: Settings, webhook: Webhook, tmp_path: Path, logs_dir: Path
) -> None:
    # the whole day is the shift, without breaks, in a zone where it is daytime: the rules'
    # shift conditions (active, 900 s elapsed) hold
    settings = in_daytime_zone(settings).model_copy(
        update={"shift_start": time(0, 0), "shift_end": time(23, 59), "shift_breaks": ""})
    ensure_topics(settings)
    processes = []
    stopping = threading.Event()
    worker = Worker(settings, logs_dir / "alerts-worker.log").start()
    try:
        spec = SimulationSpec(reps=20, teams=2, calls=0, rate=20, live=True, seed=23,
                              timezone=settings.timezone, quiet_team=SILENT_TEAM, quiet_after=25,
                              quiet_for=3600)  # fmt: skip
        feeder = threading.Thread(target=produce, args=(spec, settings),
                                  kwargs={"stop": stopping}, daemon=True)  # fmt: skip
        feeder.start()

        am_port, prom_port = free_port(), free_port()
        (tmp_path / "alertmanager.yml").write_text(PLACEHOLDER.sub(webhook.url, ROUTING.read_text()))
        processes.append(spawn([
            binary("prometheus-alertmanager", "prometheus-alertmanager"),
            f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'am'}",
            f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=",
        ], {}, logs_dir / "alerts-alertmanager.log"))  # fmt: skip
        wait_for_port("127.0.0.1", am_port, 30, "alertmanager")

        targets = tmp_path / "workers.json"
        targets.write_text(orjson.dumps([{"targets": [f"127.0.0.1:{settings.web_port}"]}]).decode())
        (tmp_path / "rules.yml").write_text(rules_at_pace(RULES.read_text(), PACE))
        (tmp_path / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: ['{tmp_path / 'rules.yml'}']\n"
            f"alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]}}]}}\n"
            "scrape_configs:\n"
            "  - job_name: callfloor\n"  # discovered from a file, as DNS or Kubernetes would
            f"    file_sd_configs: [{{files: ['{targets}'], refresh_interval: 1s}}]\n"
        )
        processes.append(spawn([
            binary("prometheus", "prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}",
        ], {}, logs_dir / "alerts-prometheus.log"))  # fmt: skip
        wait_for_port("127.0.0.1", prom_port, 30, "prometheus")

        wait_for(lambda: webhook.firing("TeamNotDialing", team=SILENT_TEAM), 150,
                 f"TeamNotDialing for {SILENT_TEAM} at the webhook", every_s=1,
                 progress=lambda: str(webhook.alerts[-3:]))  # fmt: skip
        (alert,) = webhook.firing("TeamNotDialing", team=SILENT_TEAM)[:1]
        assert alert["receiver"] == "ops-page" and alert["labels"]["severity"] == "page"
        assert "has made no dials" in alert["annotations"]["summary"]
        assert not webhook.firing("TeamNotDialing", team="team-01"), "the team still dialing is not paged"
        assert not webhook.firing("WorkerDown") and not webhook.firing("NoWorkerRunning")

        worker.kill()
        down = wait_for(lambda: webhook.firing("WorkerDown"), 90, "WorkerDown after the worker was killed",
                        every_s=1)  # fmt: skip
        assert down[0]["labels"]["instance"] == f"127.0.0.1:{settings.web_port}"

        # Discovery drops the dead worker (as Docker's DNS and Kubernetes endpoints do): its `up`
        # series ends, WorkerDown has nothing left to compare and resolves; only absent() sees
        # that no worker is running.
        targets.write_text("[]")
        wait_for(lambda: [a for a in webhook.alerts if a["labels"]["alertname"] == "WorkerDown"
                          and a["status"] == "resolved"], 90, "WorkerDown to resolve once no target is left",
                 every_s=1)  # fmt: skip
        assert promql(prom_port, 'up{job="callfloor"}') == []
        firing = promql(prom_port, 'ALERTS{alertname="NoWorkerRunning", alertstate="firing"}')
        assert len(firing) == 1, firing
        gone = webhook.firing("NoWorkerRunning")
        assert gone and gone[0]["receiver"] == "ops-page", webhook.alerts
    finally:
        stopping.set()
        worker.stop()
        for process in processes:
            stop(process)
