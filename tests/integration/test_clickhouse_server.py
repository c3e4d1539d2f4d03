"""The embedded ClickHouse HTTP server, driven by the real clickhouse-connect client."""

from __future__ import annotations

import base64
import datetime as dt
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from deploy.local.clickhouse import EmbeddedClickHouse
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INJECTION = "x'); DROP TABLE calls; --"
COLUMNS = ["rep_id", "seq", "amount", "ended_at", "call_date", "outcome"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedClickHouse]:
    ch = EmbeddedClickHouse(tmp_path_factory.mktemp("chdb") / "data", port=0)
    ch.start()
    yield ch
    ch.stop()


def token_of(server: EmbeddedClickHouse) -> str:
    assert server.token_file is not None
    return server.token_file.read_text().strip()


@pytest.fixture(scope="module")
def client(server: EmbeddedClickHouse) -> Iterator[Client]:
    """A client on the `callfloor` database, created first, as the services will use it."""
    token = token_of(server)
    admin = clickhouse_connect.get_client(host="127.0.0.1", port=server.port, password=token)
    admin.command("CREATE DATABASE IF NOT EXISTS callfloor")
    admin.close()
    cl = clickhouse_connect.get_client(
        host="127.0.0.1", port=server.port, database="callfloor", password=token
    )
    yield cl
    cl.close()


def http(url: str, body: bytes | None = None, headers: dict[str, str] | None = None, token: str = ""):
    """A raw HTTP call, returning (status, body) even for error statuses."""
    headers = {"X-ClickHouse-Key": token, **(headers or {})} if token else headers or {}
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def sample_rows(n: int) -> list[list]:
    rows = []
    for i in range(n):
        rep = INJECTION if i == 0 else ("Zoë 北京 🚀" if i == 1 else f"rep-{i:05d}")
        ended = (
            None if i % 7 == 0 else dt.datetime(2024, 3, 1, 9, 30) + dt.timedelta(milliseconds=i)
        )
        amount = Decimal(i * 37 % 100000) / 100 - Decimal("123.45")
        call_date = dt.date(2024, 1, 1) + dt.timedelta(days=i % 400)
        rows.append([rep, i, amount, ended, call_date, ("sale", "no_sale", "callback")[i % 3]])
    return rows


def test_ping_and_handshake(server: EmbeddedClickHouse, client: Client) -> None:
    assert http(f"{server.url}/ping") == (200, b"Ok.\n")
    assert http(f"{server.url}/") == (200, b"Ok.\n")
    assert client.server_version.startswith("26.")
    assert client.command("SELECT currentDatabase()") == "callfloor"


def test_insert_and_read_back_exactly(client: Client) -> None:
    client.command(
        "CREATE TABLE calls (rep_id String, seq UInt32, amount Decimal(18, 2), "
        "ended_at Nullable(DateTime64(3, 'UTC')), call_date Date, outcome LowCardinality(String)) "
        "ENGINE = MergeTree ORDER BY seq"
    )
    rows = sample_rows(5000)
    summary = client.insert("calls", rows, column_names=COLUMNS)
    assert summary.written_rows == 5000

    result = client.query(
        "SELECT rep_id, seq, amount, ended_at, call_date, outcome FROM calls ORDER BY seq"
    )
    assert [list(r) for r in result.result_rows] == rows
    assert result.column_names == tuple(COLUMNS)
    assert client.command("EXISTS TABLE calls") == 1  # the injection string stayed text


def test_command_returns_values(client: Client) -> None:
    client.command("CREATE TABLE counted (n UInt64) ENGINE = MergeTree ORDER BY n")
    client.command("INSERT INTO counted SELECT number FROM numbers(1234)")
    assert client.command("SELECT count() FROM counted") == 1234
    assert client.command("SELECT 'a', 2") == ["a", "2"]
    client.command("DROP TABLE counted")
    assert client.command("EXISTS TABLE counted") == 0


def test_insert_spanning_several_compressed_blocks(client: Client) -> None:
    """~2 MB per Native block, each its own lz4 frame: the server must read every frame."""
    client.command("CREATE TABLE wide (n UInt32, blob String) ENGINE = MergeTree ORDER BY n")
    rows = [[i, f"{i:06d}" * 200] for i in range(6000)]
    assert client.insert("wide", rows, column_names=["n", "blob"]).written_rows == 6000
    assert client.command("SELECT count(), sum(length(blob)) FROM wide") == ["6000", "7200000"]


@pytest.mark.parametrize("compress", ["zstd", "gzip", False])
def test_other_request_compressions(server: EmbeddedClickHouse, compress: str | bool) -> None:
    cl = clickhouse_connect.get_client(
        host="127.0.0.1", port=server.port, database="callfloor", compress=compress,
        password=token_of(server),
    )
    cl.command("CREATE TABLE IF NOT EXISTS comp (k String, v UInt32) ENGINE = Memory")
    cl.insert("comp", [[str(compress), i] for i in range(3000)], column_names=["k", "v"])
    assert cl.command(f"SELECT sum(v) FROM comp WHERE k = '{compress}'") == sum(range(3000))
    cl.close()


def test_server_side_parameters(server: EmbeddedClickHouse, client: Client) -> None:
    found = client.query(
        "SELECT {rep:String} AS rep, {n:UInt32} + 1 AS n", parameters={"rep": INJECTION, "n": 41}
    )
    assert found.result_rows == [(INJECTION, 42)]
    # Raw HTTP: values arrive in ClickHouse's escaped form, as the real server expects them.
    query = urllib.parse.urlencode({"param_who": "O'Brien\\tx", "database": "callfloor"})
    status, body = http(
        f"{server.url}/?{query}", b"SELECT concat('hi ', {who:String}) FORMAT RawBLOB",
        token=token_of(server),
    )
    assert (status, body) == (200, b"hi O'Brien\tx")


def test_settings_apply_per_request(client: Client) -> None:
    sql = "SELECT value FROM system.settings WHERE name = 'max_threads'"
    assert client.query(sql, settings={"max_threads": 3}).result_rows == [("3",)]
    assert client.query(sql).result_rows != [("3",)]


def test_invalid_query_raises_and_server_survives(client: Client) -> None:
    with pytest.raises(DatabaseError) as err:
        client.query("SELEC 1")
    assert err.value.code == 62
    assert "Code: 62" in str(err.value) and "SYNTAX_ERROR" in str(err.value)
    with pytest.raises(DatabaseError) as err:
        client.insert("no_such_table", [[1]], column_names=["a"], column_type_names=["UInt32"])
    assert err.value.code == 60
    assert client.command("SELECT 40 + 2") == 42


def test_replacing_merge_tree_final(client: Client) -> None:
    client.command(
        "CREATE TABLE shifts (id UInt32, ver UInt64, state String) "
        "ENGINE = ReplacingMergeTree(ver) ORDER BY id"
    )
    columns = ["id", "ver", "state"]
    for batch in (
        [[1, 1, "open"], [2, 1, "open"]],
        [[1, 3, "closed"], [2, 2, "break"]],
        [[1, 2, "stale"]],
    ):
        client.insert("shifts", batch, column_names=columns)
    assert client.command("SELECT count() FROM shifts") == 5  # three parts, not merged yet
    final = client.query("SELECT id, ver, state FROM shifts FINAL ORDER BY id").result_rows
    assert final == [(1, 3, "closed"), (2, 2, "break")]


def test_refuses_non_loopback_host_without_password(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="password"):
        EmbeddedClickHouse(tmp_path / "data", host="0.0.0.0")
    EmbeddedClickHouse(tmp_path / "data", host="0.0.0.0", password="s3cret")  # not started


def test_password_protected_server(tmp_path: Path) -> None:
    """In its own process (chdb allows one data directory per process), stopped by SIGTERM."""
    port, password = free_port(), "pa55-w0rd!"
    code = (
        "import logging, sys; from pathlib import Path; "
        "from deploy.local.clickhouse import serve; logging.basicConfig(level=logging.DEBUG); "
        f"serve(Path(sys.argv[1]), '127.0.0.1', {port}, 'default', sys.argv[2])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "data"), password],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while http_ok(f"http://127.0.0.1:{port}/ping") is False:
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        with pytest.raises(DatabaseError) as err:
            clickhouse_connect.get_client(host="127.0.0.1", port=port, password="wrong")
        assert err.value.code == 516
        status, body = http(f"http://127.0.0.1:{port}/?query=SELECT+1")
        assert status == 401 and b"Code: 516" in body
        good = clickhouse_connect.get_client(host="127.0.0.1", port=port, password=password)
        assert good.command("SELECT 7") == 7
        good.close()
        query = urllib.parse.urlencode(
            {"user": "default", "password": password, "query": "SELECT 8"}
        )
        assert http(f"http://127.0.0.1:{port}/?{query}") == (200, b"8\n")
        basic = base64.b64encode(f"default:{password}".encode()).decode()
        assert http(
            f"http://127.0.0.1:{port}/", b"SELECT 9", {"Authorization": f"Basic {basic}"}
        ) == (
            200,
            b"9\n",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output.decode(errors="replace")
    assert password.encode() not in output
    assert urllib.parse.quote(password).encode() not in output


def http_ok(url: str) -> bool:
    try:
        return http(url)[0] == 200
    except OSError:
        return False
