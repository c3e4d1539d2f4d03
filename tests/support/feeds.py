"""``callfloor ingest`` as a live feed (``--listen``, ``--format *-db``) in a child process, and a
plain HTTP client posting to it, for the tests and the live-ingest benchmark."""

from __future__ import annotations

import base64
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from deploy.local.broker import wait_for_port
from deploy.local.processes import callfloor_command, spawn, stop
from schemas.settings import Settings


@contextmanager
def running_ingest(settings: Settings, log_path: Path, *args: str, env: Mapping[str, str] | None = None,
                   port: int | None = None) -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    """``callfloor ingest ARGS`` until the block ends (SIGTERM); with ``port``, once it listens."""
    argv = callfloor_command("ingest", "--no-progress", *args)
    process = spawn(argv, {**settings.to_env(), **(env or {})}, log_path)
    try:
        if port is not None:
            wait_for_port("127.0.0.1", port, 60, f"callfloor ingest --listen (log: {log_path})")
        yield process
    finally:
        stop(process)


def basic(user: str, password: str) -> dict[str, str]:
    """The header curl sends for mod_json_cdr's ``cred`` (``user:password``)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def post(
    url: str, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
) -> tuple[int, bytes]:
    """(status, body) of one POST with urllib, the standard library's client."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": content_type, **(headers or {})})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
