"""The embedded ClickHouse endpoint: server, SQL fence, per-request engine sessions, token."""

from deploy.local.clickhouse.endpoint import Limits
from deploy.local.clickhouse.server import EmbeddedClickHouse, serve

__all__ = ["EmbeddedClickHouse", "Limits", "serve"]
