"""What `callfloor demo` prints while its totals cannot be read yet, and when a port is taken;
the inputs folder it writes for the payroll run it prints."""

from __future__ import annotations

import os
import socket
import subprocess
from datetime import date
from pathlib import Path

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from deploy.local.demo import EXAMPLE_PLAN, waiting_reason, write_demo_inputs
from deploy.local.ops import binaries
from deploy.local.processes import callfloor_command
from payroll.inputs import load_inputs
from payroll.plan import load_plan
from simulator import SimulationSpec
from tests.support.ports import free_port, free_ports


def test_tables_not_made_yet_is_said_plainly() -> None:
    missing = DatabaseError("Code: 81. DB::Exception: Database callfloor does not exist. (UNKNOWN_DATABASE)")
    assert waiting_reason(missing) == "waiting for `callfloor migrate` to create the tables"


def test_other_failures_name_their_kind() -> None:
    away = OperationalError("Error HTTPConnectionPool(host='127.0.0.1', port=8123): connection refused")
    assert waiting_reason(away) == "waiting for ClickHouse: OperationalError"


def test_a_taken_port_is_named_with_the_variable_that_moves_it(tmp_path: Path) -> None:
    """Prometheus' 9090 is often taken by another Prometheus: the demo stops before starting
    anything and names CALLFLOOR_DEMO_PROMETHEUS_PORT (it once named only the Kafka, ClickHouse
    and worker variables, whatever port was taken)."""
    if not all(binaries()):
        pytest.fail("Debian's prometheus and prometheus-alertmanager are required (make system-deps)")
    web, board, prometheus, alertmanager = free_ports(4)
    env = {**os.environ, "CALLFLOOR_DATA_DIR": str(tmp_path), "CALLFLOOR_WEB_PORT": str(web),
           "CALLFLOOR_WALLBOARD_PORT": str(board), "CALLFLOOR_DEMO_PROMETHEUS_PORT": str(prometheus),
           "CALLFLOOR_DEMO_ALERTMANAGER_PORT": str(alertmanager),
           "CALLFLOOR_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
           "CALLFLOOR_CLICKHOUSE_URL": f"http://127.0.0.1:{free_port()}"}  # fmt: skip
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", prometheus))
        taken.listen()
        done = subprocess.run(callfloor_command("demo"), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"Prometheus port {prometheus} already in use" in done.stderr, done.stderr
    assert "set CALLFLOOR_DEMO_PROMETHEUS_PORT to free ports" in done.stderr, done.stderr
    assert "starting" not in done.stdout, "the demo started something before checking its ports"


def test_the_demo_inputs_folder_is_complete_for_a_payroll_run(tmp_path: Path) -> None:
    """The demo prints `callfloor payroll run --inputs .callfloor/demo-inputs`: that folder holds
    every file the plan reads (it once held only the roster, and the run stopped on
    `allowances.csv: cannot read file`), and everyone on its roster is payable."""
    write_demo_inputs(tmp_path, EXAMPLE_PLAN, SimulationSpec(reps=40, calls=0, live=True), date(2026, 12, 7))
    given = load_inputs(load_plan(EXAMPLE_PLAN), tmp_path)
    assert len(given.roster.people) == 40
