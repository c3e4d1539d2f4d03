"""Fixtures the browser tests share: a 1080p headless Chromium and a folder for screenshots."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import Chromium


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
