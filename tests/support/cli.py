"""Running the ``callfloor`` CLI the way its users do."""

from __future__ import annotations

import subprocess

import orjson

from deploy.local.processes import callfloor_command
from schemas.settings import Settings


def report(settings: Settings, first: str, last: str, by: str = "rep") -> list[dict]:
    """``callfloor report`` exactly as a payroll clerk runs it (JSON rows)."""
    done = subprocess.run(
        callfloor_command("report", "--from", first, "--to", last, "--by", by, "--format", "json"),
        env={**settings.to_env(), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return orjson.loads(done.stdout)
