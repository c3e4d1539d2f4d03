"""A bad configuration stops the worker at once with a message naming the field."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from deploy.local.processes import callfloor_command
from schemas.settings import Settings

pytestmark = pytest.mark.integration


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(callfloor_command("worker"), env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_invalid_targets_file_refuses_to_start_naming_line_and_field(
    settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "targets.yaml"
    bad.write_text("version: 1\nreps:\n  rep-1:\n    team: t1\n    daily: {dials: -5}\n")
    done = run_worker({**settings.to_env(), "CALLFLOOR_TARGETS_FILE": str(bad)})
    assert done.returncode == 2
    assert "line 5" in done.stderr and "reps.rep-1.daily.dials" in done.stderr


def test_missing_targets_file_refuses_to_start(settings: Settings, tmp_path: Path) -> None:
    done = run_worker({**settings.to_env(), "CALLFLOOR_TARGETS_FILE": str(tmp_path / "nope.yaml")})
    assert done.returncode == 2 and "nope.yaml" in done.stderr


def test_bad_setting_names_the_variable(settings: Settings) -> None:
    done = run_worker({**settings.to_env(), "CALLFLOOR_TIMEZONE": "Mars/Olympus"})
    assert done.returncode == 2 and "CALLFLOOR_TIMEZONE" in done.stderr and "Mars/Olympus" in done.stderr
