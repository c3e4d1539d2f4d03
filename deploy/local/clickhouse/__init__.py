"""The embedded ClickHouse endpoint: server, SQL fence, per-request engine sessions, token.

The names below load on first use: importing this package must not import chdb (whose import
starts threads), because the engine process confines itself before chdb loads (engine_process.py).
"""

from __future__ import annotations

from typing import Any

__all__ = ["EmbeddedClickHouse", "Limits", "serve"]


def __getattr__(name: str) -> Any:
    if name == "Limits":
        from deploy.local.clickhouse.endpoint import Limits

        return Limits
    if name in ("EmbeddedClickHouse", "serve"):
        from deploy.local.clickhouse import server

        return getattr(server, name)
    raise AttributeError(name)
