"""The pay plan comes from --plan or CALLFLOOR_PAY_PLAN_FILE, the inputs folder from --inputs or
CALLFLOOR_PAYROLL_INPUTS_DIR; with neither the command says so."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from deploy.local.processes import callfloor_command


def test_payroll_without_a_plan_names_both_ways_to_give_one() -> None:
    env = {"PATH": "/usr/bin:/bin", "CALLFLOOR_CLICKHOUSE_URL": "http://127.0.0.1:9"}
    done = subprocess.run(callfloor_command("payroll", "run", "--month", "2026-11"), env=env,
                          capture_output=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert b"--plan FILE or set CALLFLOOR_PAY_PLAN_FILE" in done.stderr


EXAMPLES = Path(__file__).resolve().parents[2] / "deploy"
PLAN = str(EXAMPLES / "payroll.example.yaml")
INPUTS = str(EXAMPLES / "payroll-inputs.example")
# ClickHouse nobody answers at: a command that got past its plan and inputs fails there (exit 1)
NOWHERE = {"PATH": "/usr/bin:/bin", "CALLFLOOR_CLICKHOUSE_URL": "http://127.0.0.1:9"}


def _payroll(*args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(callfloor_command("payroll", *args, "--month", "2026-11", "--plan", PLAN),
                          env={**NOWHERE, **env}, capture_output=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize("command", ["run", "close"])
def test_the_inputs_folder_comes_from_inputs_or_the_wallboard_s_setting(command: str, tmp_path: Path) -> None:
    """CALLFLOOR_PAYROLL_INPUTS_DIR (where the wallboard reads the roster) is the default of
    --inputs, so a clerk with the floor's environment need not repeat it; --inputs wins."""
    neither = _payroll(command)
    assert neither.returncode == 2, neither.stderr
    assert b"--inputs DIR" in neither.stderr and b"CALLFLOOR_PAYROLL_INPUTS_DIR" in neither.stderr

    from_setting = _payroll(command, CALLFLOOR_PAYROLL_INPUTS_DIR=INPUTS)
    assert from_setting.returncode == 1 and b"ClickHouse at http://127.0.0.1:9" in from_setting.stderr, (
        from_setting.stderr
    )

    empty = {"CALLFLOOR_PAYROLL_INPUTS_DIR": str(tmp_path)}
    from_empty = _payroll(command, **empty)
    assert from_empty.returncode == 2 and f"{tmp_path}/".encode() in from_empty.stderr, from_empty.stderr
    flag_wins = _payroll(command, "--inputs", INPUTS, **empty)
    assert flag_wins.returncode == 1 and b"ClickHouse at" in flag_wins.stderr, flag_wins.stderr
