"""Security: the ClickHouse password is a secret from end to end.

``callfloor clickhouse`` is started with CALLFLOOR_CLICKHOUSE_PASSWORD (it then demands it
on every request); a worker with the right password stores CDRs, one with a wrong
password backs off. Neither password may appear in ``Settings.masked()``, in any log (the
workers', the server's, ``callfloor report``'s error output) or on a command line.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from pydantic import SecretStr

from deploy.local.processes import callfloor_command
from schemas.settings import Settings
from sinks.clickhouse.client import connect
from streams.topics import ensure_topics
from tests.chaos.cdrs import cdr, message
from tests.chaos.harness import Processes, chaos_line, differences, expected_from, keyed, wait_drained
from tests.support.cli import report
from tests.support.kafka import send_all
from tests.support.ports import free_port
from tests.support.processes import ClickHouseProcess, Worker
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

SECRET = "s3cr3t-Pa55w0rd-never-logged"
WRONG = "wr0ng-Pa55w0rd-never-logged"


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def test_masked_settings_hide_the_password() -> None:
    settings = Settings(clickhouse_password=SECRET)
    masked = settings.masked()
    assert masked["clickhouse_password"] == "**********"
    assert SECRET not in str(masked) and SECRET not in repr(settings) and SECRET not in str(settings)
    assert Settings().masked()["clickhouse_password"] == "", "an empty password is shown as empty"


@pytest.mark.chaos_timeout(90)
def test_password_protected_clickhouse_and_no_password_in_any_log(
    make_settings: Callable[..., Settings], procs: Processes, scenario_logs: Path, tmp_path: Path
) -> None:
    server = procs.add(ClickHouseProcess(tmp_path / "chdata", scenario_logs / "clickhouse.log",
                                       env={"CALLFLOOR_CLICKHOUSE_PASSWORD": SECRET}))  # fmt: skip
    server.start()
    settings = make_settings(clickhouse_url=server.url, clickhouse_password=SECRET)
    with pytest.raises(DatabaseError, match="516|Authentication failed"), connect(
        settings.model_copy(update={"clickhouse_password": SecretStr("")}), database=""
    ) as anonymous:
        anonymous.command("SELECT 1")

    ensure_topics(settings)
    at = datetime.now(UTC) - timedelta(hours=2)
    calls = [cdr(f"sec-{i}", at - timedelta(minutes=i), rep=f"sec-rep-{i % 3}",
                 shape=("sale", "connect", "no_answer")[i % 3]) for i in range(30)]  # fmt: skip
    sent = send_all(settings.kafka_bootstrap, settings.cdr_topic, [message(c) for c in calls])
    worker = procs.add(Worker(settings, scenario_logs / "worker.log")).start()
    wrong_settings = settings.model_copy(update={"clickhouse_password": SecretStr(WRONG)})
    other_group = {"app_id": settings.app_id + "-wrong", "web_port": free_port()}
    wrong = Worker(wrong_settings.model_copy(update=other_group), scenario_logs / "worker-wrong-password.log",
                   migrate=False)  # fmt: skip
    procs.add(wrong)
    wrong.start()
    wait_drained(settings, 60, [worker])
    wait_for(lambda: "Authentication failed" in wrong.log(), 45, "the wrong-password worker to be refused")
    assert wrong.alive(), "a refused worker backs off; it does not exit"
    pids = {"worker": worker.pid, "wrong": wrong.pid, "clickhouse": server.process.pid}
    command_lines = {name: cmdline(pid) for name, pid in pids.items()}

    expected = expected_from(sent, settings.zone)
    day = next(iter(expected.rows))[0]
    got = keyed(report(settings, day, day))
    failed_report = subprocess.run(
        callfloor_command("report", "--from", day, "--to", day),
        env={**wrong_settings.to_env(), "PATH": "/usr/bin:/bin"},
        capture_output=True, timeout=60,
    )  # fmt: skip
    wrong.stop()
    worker.stop()
    server.stop()

    texts = {
        "worker log": worker.log(),
        "wrong-password worker log": wrong.log(),
        "clickhouse log": server.log_path.read_text(errors="replace"),
        "report stderr": failed_report.stderr.decode(errors="replace"),
        "report stdout": failed_report.stdout.decode(errors="replace"),
        **{f"{name} command line": text for name, text in command_lines.items()},
    }
    leaks = sorted(name for name, text in texts.items() if SECRET in text or WRONG in text)
    chaos_line("secrets", events=len(sent), faults="wrong_password_worker+failed_report",
               places_checked=len(texts), leaks=len(leaks), lost=0 if got == expected.rows else "see-diff",
               double=0 if got == expected.rows else "see-diff")  # fmt: skip
    assert leaks == [], f"a password appears in: {leaks}"
    assert "'clickhouse_password': '**********'" in texts["worker log"], "the worker logs masked settings"
    assert failed_report.returncode == 1 and "cannot read ClickHouse" in texts["report stderr"]
    assert differences(expected.rows, got) == []
