"""Fixtures the browser tests share: a 1080p headless Chromium and a folder for screenshots."""

from __future__ import annotations

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
    """Outside pytest's temp folders, which later sessions (also other suites) prune."""
    folder = Path(tempfile.mkdtemp(prefix="callfloor-wallboard-screenshots-"))
    print(f"\nwallboard screenshots in {folder}")
    return folder
