"""Kept for imports of the old module path: the endpoint now lives in deploy/local/clickhouse/."""

from deploy.local.clickhouse import EmbeddedClickHouse, Limits, serve

__all__ = ["EmbeddedClickHouse", "Limits", "serve"]
