"""The pay plan comes from --plan or CALLFLOOR_PAY_PLAN_FILE; with neither the command says so."""

from __future__ import annotations

import subprocess

from deploy.local.processes import callfloor_command


def test_payroll_without_a_plan_names_both_ways_to_give_one() -> None:
    env = {"PATH": "/usr/bin:/bin", "CALLFLOOR_CLICKHOUSE_URL": "http://127.0.0.1:9"}
    done = subprocess.run(callfloor_command("payroll", "run", "--month", "2026-11"), env=env,
                          capture_output=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert b"--plan FILE or set CALLFLOOR_PAY_PLAN_FILE" in done.stderr
