"""A web page in the operator's browser can neither read nor change anything (issue 11, item 1)."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from tests.attack.conftest import Endpoint, canary_rows
from tests.attack.raw import build, call, exchange, record

pytestmark = pytest.mark.integration
DROP = "DROP TABLE attack.canary"


def test_cross_site_get_cannot_drop_a_table(open_endpoint: Endpoint, canary: str) -> None:
    """The issue's first finding: GET ?query=DROP TABLE with a foreign Origin answered 200."""
    port = open_endpoint.port
    without_token = record(
        "GET DROP TABLE, Origin evil.example",
        call(port, DROP, None, "GET", headers={"Origin": "http://evil.example"}),
    )
    with_token = record(
        "GET DROP TABLE, Origin evil, with token",
        call(port, DROP, open_endpoint.token, "GET", headers={"Origin": "http://evil.example"}),
    )
    assert without_token.status == 403 and "Origin" in without_token.text
    assert with_token.status == 403
    assert canary_rows(open_endpoint, canary) == "3\t6"


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_browser_fetch_metadata_refused(open_endpoint: Endpoint, site: str) -> None:
    answer = record(
        f"SELECT with Sec-Fetch-Site: {site}",
        call(open_endpoint.port, "SELECT 1", open_endpoint.token, headers={"Sec-Fetch-Site": site}),
    )
    assert answer.status == 403 and "cross-site" in answer.text


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.2:{port}", "127.0.0.1:1"])
def test_foreign_host_refused_even_with_token(open_endpoint: Endpoint, host: str) -> None:
    """DNS rebinding: the page's own name resolves to 127.0.0.1, so Host names the page."""
    port = open_endpoint.port
    data = build(port, body=b"SELECT 1", token=open_endpoint.token)
    data = data.replace(f"Host: 127.0.0.1:{port}".encode(), f"Host: {host.format(port=port)}".encode())
    answer = record(f"SELECT 1 with Host: {host}", exchange(port, data))
    assert answer.status == 403 and "Host" in answer.text


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}"])
def test_served_host_names_accepted(open_endpoint: Endpoint, host: str) -> None:
    port = open_endpoint.port
    data = build(port, body=b"SELECT 1", token=open_endpoint.token)
    data = data.replace(f"Host: 127.0.0.1:{port}".encode(), f"Host: {host.format(port=port)}".encode())
    assert exchange(port, data).body == b"1\n"


@pytest.mark.parametrize(
    "how",
    ["none", "empty password", "wrong token", "token of another user", "token as user name", "bad base64"],
)
def test_token_required(open_endpoint: Endpoint, how: str) -> None:
    token = open_endpoint.token
    headers = {
        "none": {},
        "empty password": {"X-ClickHouse-User": "default", "X-ClickHouse-Key": ""},
        "wrong token": {"X-ClickHouse-Key": token[:-1] + ("A" if token[-1] != "A" else "B")},
        "token of another user": {"X-ClickHouse-User": "admin", "X-ClickHouse-Key": token},
        "token as user name": {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()},
        "bad base64": {"Authorization": "Basic !!!not-base64"},
    }[how]
    answer = record(
        f"SELECT 1, credentials: {how}", call(open_endpoint.port, "SELECT 1", None, headers=headers)
    )
    assert answer.status == 401 and "Code: 516" in answer.text
    assert token not in answer.text


@pytest.mark.parametrize("how", ["X-ClickHouse-Key", "Basic", "password param"])
def test_token_accepted_every_clickhouse_way(open_endpoint: Endpoint, how: str) -> None:
    token, port = open_endpoint.token, open_endpoint.port
    if how == "X-ClickHouse-Key":
        answer = call(port, "SELECT 41 + 1", token)
    elif how == "Basic":
        basic = base64.b64encode(f"default:{token}".encode()).decode()
        answer = call(port, "SELECT 41 + 1", None, headers={"Authorization": f"Basic {basic}"})
    else:
        answer = exchange(port, build(port, "GET", {"query": "SELECT 41 + 1", "password": token}))
    assert (answer.status, answer.body) == (200, b"42\n")


@pytest.mark.parametrize(
    "sql",
    [
        DROP,
        "INSERT INTO attack.canary VALUES (9)",
        "CREATE TABLE attack.x (a UInt8) ENGINE = Memory",
        "TRUNCATE TABLE attack.canary",
        "ALTER TABLE attack.canary DELETE WHERE 1",
        "CREATE TEMPORARY TABLE t (a UInt8)",
        "SET readonly = 0",
        "SELECT 1 SETTINGS readonly = 0",
    ],
)
def test_get_is_read_only(open_endpoint: Endpoint, canary: str, sql: str) -> None:
    """With the token, as real ClickHouse: GET runs with readonly = 1, whatever it asks."""
    answer = record(
        f"GET {sql[:40]}", call(open_endpoint.port, sql, open_endpoint.token, "GET", params={"readonly": "0"})
    )
    assert answer.status == 403 and "Code: 164" in answer.text and "READONLY" in answer.text
    assert canary_rows(open_endpoint, canary) == "3\t6"


def test_get_reads(open_endpoint: Endpoint, canary: str) -> None:
    answer = call(open_endpoint.port, f"SELECT sum(n) FROM {canary}", open_endpoint.token, "GET")
    assert (answer.status, answer.body) == (200, b"6\n")


def test_ping_needs_nothing_and_tells_nothing(open_endpoint: Endpoint) -> None:
    answer = exchange(open_endpoint.port, build(open_endpoint.port, "GET", path="/ping"))
    assert (answer.status, answer.body) == (200, b"Ok.\n")
    assert open_endpoint.token not in answer.head.decode()


def test_browser_form_post_refused(open_endpoint: Endpoint, canary: str) -> None:
    """An HTML form posts text/plain cross-site with an Origin; no token reaches it anyway."""
    body = f"{quote(DROP)}".encode()
    answer = record(
        "form POST DROP TABLE, Origin null",
        call(
            open_endpoint.port, body.decode(), None, headers={"Origin": "null", "Content-Type": "text/plain"}
        ),
    )
    assert answer.status == 403
    assert canary_rows(open_endpoint, canary) == "3\t6"
