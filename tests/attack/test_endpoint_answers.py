"""Issue 21's smaller endpoint findings: a ``FORMAT`` name outside Latin-1 dropped the
connection with a traceback (the name went into the ``X-ClickHouse-Format`` header), and the
401 named the token file's path."""

from __future__ import annotations

import pytest

from schemas.settings import Settings
from tests.attack.conftest import Endpoint
from tests.attack.raw import build, call, exchange, record

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "sql",
    ["SELECT 'a FORMAT Ωmega'", "SELECT 1 AS `FORMAT Ωmega`", "SELECT 1 FORMAT Ωmega",
     "SELECT 1 FORMAT `Ωmega`", "SELECT 'x' AS s FORMAT JSONΩ"],
)  # fmt: skip
def test_non_latin1_format_names_answer_cleanly(open_endpoint: Endpoint, sql: str) -> None:
    answer = record(f"format name {sql[-12:]}", call(open_endpoint.port, sql, open_endpoint.token))
    assert answer.status in (200, 400, 404, 500), answer.text
    assert answer.headers.get("x-clickhouse-format", "TabSeparated").isascii()
    if answer.status != 200:
        assert answer.text.startswith("Code: "), answer.text
    ping = exchange(open_endpoint.port, build(open_endpoint.port, "GET", path="/ping"))
    assert ping.status == 200
    log = open_endpoint.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "UnicodeEncodeError" not in log


def test_401_does_not_name_the_token_file(open_endpoint: Endpoint) -> None:
    answer = record("401 names no path", call(open_endpoint.port, "SELECT 1", "wrong-token"))
    assert answer.status == 401 and "Code: 516" in answer.text
    token_file = Settings().clickhouse_token_file
    assert str(token_file) not in answer.text and token_file.name not in answer.text
    assert "/" not in answer.text.split("(version")[0], answer.text
