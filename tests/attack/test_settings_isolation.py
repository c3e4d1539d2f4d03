"""Settings apply to one request only and cannot change the server for others (issue 11, item 2)."""

from __future__ import annotations

import pytest

from tests.attack.conftest import Endpoint, canary_rows
from tests.attack.raw import build, call, exchange, record

pytestmark = pytest.mark.integration


def _setting(endpoint: Endpoint, name: str) -> str:
    answer = call(endpoint.port, f"SELECT value FROM system.settings WHERE name = '{name}'", endpoint.token)
    assert answer.status == 200, answer.text
    return answer.text.strip()


def test_set_readonly_does_not_stop_later_writes(open_endpoint: Endpoint, canary: str) -> None:
    """The issue's finding: after `SET readonly = 1` the pipeline's writes failed until restart."""
    answer = record(
        "POST SET readonly = 1 (then a write)",
        call(open_endpoint.port, "SET readonly = 1", open_endpoint.token),
    )
    assert answer.status == 200
    assert _setting(open_endpoint, "readonly") == "0"
    write = call(
        open_endpoint.port,
        "CREATE TABLE IF NOT EXISTS attack.after_ro (a UInt8) ENGINE = Memory",
        open_endpoint.token,
    )
    assert write.status == 200, write.text


def test_additional_table_filters_do_not_leak(open_endpoint: Endpoint, canary: str) -> None:
    """A filter set by one client must not silently filter what payroll reads next; since
    issue 21 the setting (its value is SQL) is refused outright."""
    sql = f"SET additional_table_filters = {{'{canary}': 'n = 1'}}"
    answer = call(open_endpoint.port, sql, open_endpoint.token)
    assert answer.status == 403 and "additional_table_filters" in answer.text, answer.text
    assert canary_rows(open_endpoint, canary) == "3\t6"


def test_url_and_clause_settings_last_one_request(open_endpoint: Endpoint) -> None:
    port, token = open_endpoint.port, open_endpoint.token
    shown = exchange(
        port,
        build(
            port,
            params={"max_threads": "3"},
            token=token,
            body=b"SELECT value FROM system.settings WHERE name = 'max_threads'",
        ),
    )
    assert shown.body == b"3\n"
    assert _setting(open_endpoint, "max_threads") != "3"
    clause = call(port, "SELECT getSetting('max_threads') SETTINGS max_threads = 5", token)
    assert clause.body == b"5\n"
    assert _setting(open_endpoint, "max_threads") not in ("3", "5")


def test_use_and_temporary_tables_last_one_request(open_endpoint: Endpoint, canary: str) -> None:
    port, token = open_endpoint.port, open_endpoint.token
    assert call(port, "USE attack", token).status == 200
    assert call(port, "SELECT currentDatabase()", token).body == b"default\n"
    assert call(port, "CREATE TEMPORARY TABLE shadow (n UInt8)", token).status == 200
    later = call(port, "SELECT count() FROM shadow", token)
    assert later.status == 404 and "Code: 60" in later.text


def test_concurrent_requests_see_their_own_settings(open_endpoint: Endpoint) -> None:
    """Interleaved clients with different URL settings each see only their own."""
    from concurrent.futures import ThreadPoolExecutor

    port, token = open_endpoint.port, open_endpoint.token

    def ask(n: int) -> bytes:
        data = build(
            port, params={"max_threads": str(n)}, token=token, body=b"SELECT getSetting('max_threads')"
        )
        return exchange(port, data).body

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, [1 + i % 7 for i in range(40)]))
    assert answers == [f"{1 + i % 7}\n".encode() for i in range(40)]
