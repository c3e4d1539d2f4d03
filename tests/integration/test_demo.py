"""`callfloor demo` as a new user runs it: it prints where to look, the wallboard it names
shows the simulated floor moving, and Ctrl-C stops everything it started.

Its ports come from the ``CALLFLOOR_*`` variables (the defaults 9092, 8123, 6066 and 6080
may be taken on a shared machine); everything else is the demo's own.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

import orjson
import pytest

from deploy.local.processes import callfloor_command
from tests.support.ports import free_ports
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def dials_on_screen(url: str) -> int:
    """The floor's dials in the first view the wallboard's event stream sends."""
    with urllib.request.urlopen(url + "events", timeout=10) as stream:
        for line in stream:
            if line.startswith(b"data: "):
                view = orjson.loads(line[len(b"data: "):])
                return sum(int(rep["cells"]["dials"]["value"] or 0) for rep in view["reps"])
    return 0


def refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_demo_prints_a_wallboard_that_moves_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    kafka, clickhouse, web, board = free_ports(4)
    env = {**os.environ, "CALLFLOOR_DATA_DIR": str(tmp_path / "data"),
           "CALLFLOOR_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
           "CALLFLOOR_CLICKHOUSE_URL": f"http://127.0.0.1:{clickhouse}",
           "CALLFLOOR_WEB_PORT": str(web), "CALLFLOOR_WALLBOARD_PORT": str(board)}  # fmt: skip
    out_path = tmp_path / "demo.out"
    with open(out_path, "wb") as out:
        demo = subprocess.Popen(callfloor_command("demo"), env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=tmp_path)  # fmt: skip
    try:
        printed = lambda: out_path.read_text(errors="replace")  # noqa: E731
        wait_for(lambda: "Ctrl-C stops everything" in printed(), 120, "the demo to say where to look",
                 progress=lambda: printed()[-2000:])  # fmt: skip
        url = re.search(r"the wallboard .*\n\s+(http://\S+)", printed())
        assert url and url.group(1) == f"http://127.0.0.1:{board}/", printed()
        first = wait_for(lambda: dials_on_screen(url.group(1)), 60, "dials on the wallboard")
        wait_for(lambda: dials_on_screen(url.group(1)) > first, 30, "the floor to move on the wallboard")
        wait_for(lambda: re.search(r"calls +[1-9]", printed()), 60, "a floor totals line with calls",
                 progress=lambda: printed()[-500:])  # fmt: skip
        demo.send_signal(signal.SIGINT)
        assert demo.wait(90) == 0, printed()[-3000:]
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert "stopped." in printed()
    listening = [port for port in (kafka, clickhouse, web, board) if not refused(port)]
    assert listening == [], f"ports the demo started still listen: {listening}"
