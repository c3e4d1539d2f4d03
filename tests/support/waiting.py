"""Polling until something is true: the one wait helper (no timed assertions, just patience)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    check: Callable[[], Any],
    timeout_s: float,
    what: str,
    every_s: float = 0.5,
    progress: Callable[[], str] | None = None,
) -> Any:
    """Poll ``check`` until it returns something truthy and return that; on timeout fail
    naming ``what`` and, given ``progress``, how far it got."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            got = f" (got {progress()})" if progress else ""
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}{got}")
        time.sleep(every_s)
