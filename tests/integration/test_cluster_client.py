"""In cluster mode every client session carries the settings the cluster DDL relies on
(synchronous Distributed inserts, shard-local IN, quorum writes and sequentially consistent
reads), checked on the real ClickHouse engine."""

from __future__ import annotations

import pytest

from schemas.settings import Settings
from sinks.clickhouse.client import connect

pytestmark = pytest.mark.integration

QUERY = ("SELECT getSetting('insert_distributed_sync'), getSetting('distributed_product_mode'),"
         " toString(getSetting('insert_quorum')), getSetting('select_sequential_consistency')")


def test_cluster_clients_carry_the_distributed_settings(settings: Settings) -> None:
    with connect(settings.model_copy(update={"clickhouse_cluster": "floor"}), database="") as client:
        assert client.query(QUERY).result_rows == [(1, "local", "auto", 1)]
    with connect(settings, database="") as client:
        assert client.query(QUERY).result_rows == [(0, "deny", "0", 0)], "one server: ClickHouse's defaults"
