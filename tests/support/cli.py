"""Running the ``callfloor`` CLI the way its users do."""

from __future__ import annotations

import subprocess

import orjson

from deploy.local.processes import callfloor_command
from schemas.settings import Settings


def callfloor(settings: Settings, *args: str, timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
    """``callfloor ARGS`` configured by ``settings``' variables only, as a user runs it."""
    return subprocess.run(callfloor_command(*args), env={**settings.to_env(), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=timeout_s)  # fmt: skip


def report(settings: Settings, first: str, last: str, by: str = "rep") -> list[dict]:
    """``callfloor report`` exactly as a payroll clerk runs it (JSON rows)."""
    done = callfloor(settings, "report", "--from", first, "--to", last, "--by", by, "--format", "json",
                     timeout_s=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout)
