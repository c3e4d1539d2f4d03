"""Fixtures the browser tests share: a 1080p headless Chromium, a folder for screenshots, and a
real Alertmanager (Debian's prometheus-alertmanager) for the alerts panel (``post_alert`` in
``wallboard_page`` makes an alert fire in it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.broker import wait_for_port
from deploy.local.processes import spawn, stop
from tests.support.browser import Chromium
from tests.support.ports import free_port

ALERTMANAGER_CONFIG = "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n"


@pytest.fixture
def browser() -> Iterator[Chromium]:
    chromium = Chromium(1920, 1080)
    yield chromium
    chromium.close()


@pytest.fixture
def artifacts() -> Path:
    """Outside pytest's temp folders, which later sessions (also other suites) prune;
    ``make screenshots`` points it at docs/img, where the README's pictures live."""
    chosen = os.environ.get("CALLFLOOR_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="callfloor-wallboard-screenshots-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots in {folder}")
    return folder


@pytest.fixture
def alertmanager(tmp_path: Path, logs_dir: Path) -> Iterator[str]:
    """A real Alertmanager routing to nobody; its base URL."""
    binary = shutil.which("prometheus-alertmanager")
    assert binary, "prometheus-alertmanager missing: apt-get install prometheus-alertmanager"
    (tmp_path / "am.yml").write_text(ALERTMANAGER_CONFIG)
    port = free_port()
    argv = [binary, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]  # fmt: skip
    process: subprocess.Popen[bytes] = spawn(argv, {}, logs_dir / "alertmanager.log")
    try:
        wait_for_port("127.0.0.1", port, 30, "alertmanager")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)

