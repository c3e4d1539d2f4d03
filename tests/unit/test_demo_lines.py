"""What `callfloor demo` prints while its totals cannot be read yet."""

from __future__ import annotations

from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from deploy.local.demo import waiting_reason


def test_tables_not_made_yet_is_said_plainly() -> None:
    missing = DatabaseError("Code: 81. DB::Exception: Database callfloor does not exist. (UNKNOWN_DATABASE)")
    assert waiting_reason(missing) == "waiting for `callfloor migrate` to create the tables"


def test_other_failures_name_their_kind() -> None:
    away = OperationalError("Error HTTPConnectionPool(host='127.0.0.1', port=8123): connection refused")
    assert waiting_reason(away) == "waiting for ClickHouse: OperationalError"
