"""A stand-in ClickHouse client that records what it is sent, for checking which SQL the
schema and read paths produce in cluster mode (no result is ever checked through it)."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest

from schemas.settings import Settings

CREATED = re.compile(r"^\s*CREATE (?:OR REPLACE )?(?:TABLE|VIEW|MATERIALIZED VIEW) (?:IF NOT EXISTS )?(\w+)")
CLUSTER_SETTINGS = Settings(clickhouse_cluster="floor", clickhouse_url="http://127.0.0.1:9")


class RecordingClient:
    """Answers every query with ``rows`` (none by default); keeps each statement, query and
    insert target."""

    def __init__(self, rows: list[tuple] | None = None) -> None:
        self.rows = rows or []
        self.commands: list[str] = []
        self.queries: list[str] = []
        self.inserted: list[str] = []

    def command(self, sql: str, **_: Any) -> None:
        self.commands.append(sql)

    def query(self, sql: str, **_: Any) -> SimpleNamespace:
        self.queries.append(sql)
        return SimpleNamespace(result_rows=self.rows, named_results=lambda: iter(()))

    def insert(self, table: str, *_: Any, **__: Any) -> None:
        self.inserted.append(table)

    raw_insert = insert

    def close(self) -> None:
        pass

    def __enter__(self) -> RecordingClient:
        return self

    def __exit__(self, *_: object) -> None:
        pass


def applied_on_cluster() -> dict[str, list[str]]:
    """Every statement ``callfloor migrate``'s schema step (apply_schema) sends in cluster mode."""
    import sinks.clickhouse.schema_version

    applied: dict[str, list[str]] = {}
    with pytest.MonkeyPatch.context() as patch:
        recorder = RecordingClient()
        patch.setattr(sinks.clickhouse.schema_version, "connect", lambda *_, **__: recorder)
        sinks.clickhouse.schema_version.apply_schema(CLUSTER_SETTINGS)
        applied["apply_schema"] = recorder.commands
    return applied


def payroll_commands(recorded_version: str | None) -> list[str]:
    """What ``payroll run|close`` (payroll_client) sends before its reads, against a database
    whose recorded schema version is ``recorded_version``."""
    import payroll.run
    import sinks.clickhouse.schema_version

    recorder = RecordingClient(rows=[(recorded_version,)] if recorded_version else [])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sinks.clickhouse.schema_version, "connect", lambda *_, **__: recorder)
        with payroll.run.payroll_client(CLUSTER_SETTINGS):
            pass
    return recorder.commands
