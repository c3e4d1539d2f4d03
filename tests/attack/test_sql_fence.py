"""Nothing reaches outside the database through SQL (issue 11, item 2), even with the token."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attack.conftest import Endpoint, canary_rows
from tests.attack.raw import build, call, exchange, record

pytestmark = pytest.mark.integration

# {secret} is the path of a file holding a secret; {out} a path that must never be created.
READS = {
    "file() table function": "SELECT * FROM file('{secret}', 'LineAsString')",
    "file() scalar function": "SELECT file('{secret}')",
    "FILE() upper case": "SELECT * FROM FILE('{secret}', 'LineAsString')",
    "`file` backquoted": "SELECT * FROM `file`('{secret}', 'LineAsString')",
    '"file" double-quoted': "SELECT * FROM \"file\"('{secret}', 'LineAsString')",
    "file() behind a comment": "SELECT * FROM /* numbers(1) */ file('{secret}', 'LineAsString')",
    "file() in a subquery": "SELECT 1 WHERE 'x' IN (SELECT * FROM file('{secret}', 'LineAsString'))",
    "file() in a CTE": "WITH s AS (SELECT * FROM file('{secret}', 'LineAsString')) SELECT * FROM s",
    "file() in a view": "CREATE VIEW attack.v AS SELECT * FROM file('{secret}', 'LineAsString')",
    "fileCluster()": "SELECT * FROM fileCluster('default', '{secret}', 'LineAsString')",
    "filesystem()": "SELECT * FROM filesystem('/etc')",
    "url()": "SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')",
    "s3()": "SELECT * FROM s3('http://127.0.0.1:1/b/k', 'CSV', 'a String')",
    "remote()": "SELECT * FROM remote('127.0.0.1:1', system.one)",
    "remoteSecure()": "SELECT * FROM remoteSecure('127.0.0.1:1', system.one)",
    "cluster()": "SELECT * FROM cluster('default', system.one)",
    "mysql()": "SELECT * FROM mysql('127.0.0.1:1', 'd', 't', 'u', 'p')",
    "postgresql()": "SELECT * FROM postgresql('127.0.0.1:1', 'd', 't', 'u', 'p')",
    "executable()": "SELECT * FROM executable('cat', 'LineAsString', 'a String')",
    "hdfs()": "SELECT * FROM hdfs('hdfs://127.0.0.1:1/x', 'CSV', 'a String')",
    "jdbc()": "SELECT * FROM jdbc('jdbc:x', 't')",
    "odbc()": "SELECT * FROM odbc('DSN=x', 't')",
    "azureBlobStorage()": "SELECT * FROM azureBlobStorage('http://127.0.0.1:1', 'c', 'b')",
    "python() (chdb: the server's Python objects)": "SELECT * FROM python(__builtins__)",
    "eval()": "SELECT * FROM eval('SELECT 1')",
    "FROM INFILE": "INSERT INTO attack.canary FROM INFILE '{secret}' FORMAT CSV",
    "Values expression in data": "INSERT INTO attack.leak VALUES (file('{secret}'))",
    "interpret_expressions via SETTINGS": (
        "INSERT INTO attack.leak SETTINGS input_format_values_interpret_expressions = 1 "
        "VALUES (file('{secret}'))"
    ),
    "format_schema setting": "SELECT 1 SETTINGS format_schema = '{secret}:M'",
}
WRITES = {
    "INSERT INTO FUNCTION file()": "INSERT INTO FUNCTION file('{out}', 'CSV', 'a UInt8') SELECT 1",
    "INTO OUTFILE": "SELECT 1 INTO OUTFILE '{out}'",
    "ENGINE = File": "CREATE TABLE attack.f (a UInt8) ENGINE = File(CSV, '{out}')",
    "ENGINE = URL": "CREATE TABLE attack.u (a UInt8) ENGINE = URL('http://127.0.0.1:1/', CSV)",
    "ENGINE = Distributed": "CREATE TABLE attack.d (a UInt8) ENGINE = Distributed('c', 'system', 'one')",
    "ENGINE = Executable": "CREATE TABLE attack.e (a String) ENGINE = Executable('cat', LineAsString)",
    "ENGINE = MySQL": "CREATE TABLE attack.m (a UInt8) ENGINE = MySQL('127.0.0.1:1', 'd', 't', 'u', 'p')",
    "CREATE TABLE AS remote()": "CREATE TABLE attack.r AS remote('127.0.0.1:1', system.one)",
    "MergeTree on a custom disk": (
        "CREATE TABLE attack.k (a UInt8) ENGINE = MergeTree ORDER BY a "
        "SETTINGS disk = disk(type = 'local', path = '{out}/')"
    ),
    "dictionary with an HTTP source": (
        "CREATE DICTIONARY attack.dd (a UInt64) PRIMARY KEY a "
        "SOURCE(HTTP(url 'http://127.0.0.1:1/' format 'CSV')) LAYOUT(FLAT()) LIFETIME(0)"
    ),
    "dictionary with a file source": (
        "CREATE DICTIONARY attack.df (a UInt64) PRIMARY KEY a "
        "SOURCE(FILE(path '{secret}' format 'CSV')) LAYOUT(FLAT()) LIFETIME(0)"
    ),
    "database ENGINE = Filesystem": "CREATE DATABASE attack_fs ENGINE = Filesystem('/etc')",
    "database ENGINE = SQLite": "CREATE DATABASE attack_sq ENGINE = SQLite('{out}')",
    "database ENGINE = Backup": "CREATE DATABASE attack_bk ENGINE = Backup('attack', File('{out}'))",
    "SYSTEM SHUTDOWN": "SYSTEM SHUTDOWN",
    "SYSTEM DROP DNS CACHE": "SYSTEM DROP DNS CACHE",
    "BACKUP to a file": "BACKUP TABLE attack.canary TO File('{out}')",
    "ATTACH from a path": "ATTACH TABLE attack.a FROM '{out}' (a UInt8) ENGINE = MergeTree ORDER BY a",
    "multi-statement": "SELECT 1; DROP TABLE attack.canary",
}


@pytest.fixture(scope="module")
def leak_table(open_endpoint: Endpoint) -> str:
    answer = call(
        open_endpoint.port,
        "CREATE TABLE IF NOT EXISTS attack.leak (s String) ENGINE = Memory",
        open_endpoint.token,
    )
    assert answer.status == 200, answer.text
    return "attack.leak"


def _attack(endpoint: Endpoint, name: str, sql: str) -> str:
    answer = record(name, call(endpoint.port, sql, endpoint.token))
    assert answer.status in (400, 403, 500), answer.text
    assert ("Code: 497" in answer.text and "Refused by the embedded endpoint" in answer.text) or (
        "Code: 62" in answer.text or "Code: 344" in answer.text or "Code: 27" in answer.text
    ), answer.text
    return answer.text


@pytest.mark.parametrize("name", sorted(READS))
def test_reads_outside_refused(
    open_endpoint: Endpoint, canary: str, leak_table: str, secret_file: tuple[Path, str], name: str
) -> None:
    path, secret = secret_file
    text = _attack(open_endpoint, name, READS[name].format(secret=path))
    assert secret not in text
    assert secret not in call(open_endpoint.port, f"SELECT * FROM {leak_table}", open_endpoint.token).text


@pytest.mark.parametrize("name", sorted(WRITES))
def test_writes_outside_refused(
    open_endpoint: Endpoint,
    canary: str,
    leak_table: str,
    secret_file: tuple[Path, str],
    tmp_path: Path,
    name: str,
) -> None:
    out = tmp_path / "written"
    _attack(open_endpoint, name, WRITES[name].format(secret=secret_file[0], out=out))
    assert not out.exists()
    assert canary_rows(open_endpoint, canary) == "3\t6"
    ping = exchange(open_endpoint.port, build(open_endpoint.port, "GET", path="/ping"))
    assert ping.status == 200, "the endpoint must survive every attack"


def test_fence_does_not_refuse_ordinary_sql(open_endpoint: Endpoint, canary: str) -> None:
    """The negative control: local table functions, columns named like refused things."""
    token, port = open_endpoint.token, open_endpoint.port
    for sql in (
        "CREATE TABLE IF NOT EXISTS attack.ok (path String, file String, url String) "
        "ENGINE = MergeTree ORDER BY path",
        "INSERT INTO attack.ok SELECT toString(number), 'f', 'u' FROM numbers(3)",
        "SELECT count() FROM attack.ok WHERE path = '1' AND file = 'f'",
        "SELECT sum(number) FROM numbers(10) SETTINGS max_threads = 1",
        "SELECT 'file(''/etc/passwd'')' AS text_that_mentions_file",
        "CREATE DATABASE IF NOT EXISTS attack_atomic ENGINE = Atomic",
    ):
        answer = call(port, sql, token)
        assert answer.status == 200, f"{sql}: {answer.text}"


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("database", "attack`; DROP TABLE attack.canary; --"),
        ("default_format", "TSV; DROP TABLE attack.canary"),
        ("max_threads", "1; DROP TABLE attack.canary"),
        ("max_threads; DROP TABLE attack.canary", "1"),
        ("param_x", "'); DROP TABLE attack.canary; --"),
        ("input_format_values_interpret_expressions", "1"),
        ("format_template_row", "/etc/passwd"),
        ("query_id", "x'; DROP TABLE attack.canary"),
        ("user", "default' OR '1'='1"),
        ("session_timezone", "UTC'; DROP TABLE attack.canary; --"),
    ],
)
def test_sql_in_every_parameter(open_endpoint: Endpoint, canary: str, param: str, value: str) -> None:
    """Every URL parameter is data or a refused name; none is pasted into SQL."""
    port, token = open_endpoint.port, open_endpoint.token
    # the user travels as a URL parameter, so its password (the token) does too
    params = {param: value, "password": token} if param == "user" else {param: value}
    body = b"SELECT {x:String} AS x FORMAT RawBLOB"
    sent = build(port, params=params, body=body, token=None if param == "user" else token)
    answer = record(f"?{param}=<sql>", exchange(port, sent))
    if param == "user":
        assert answer.status == 401, answer.text
    elif param == "param_x":
        assert (answer.status, answer.body) == (200, value.encode())
    else:
        assert answer.status >= 400, answer.text
    assert canary_rows(open_endpoint, canary) == "3\t6"


def test_statement_after_values_data_never_runs(
    open_endpoint: Endpoint, canary: str, leak_table: str
) -> None:
    """`INSERT ... VALUES (...); DROP TABLE ...` ran both statements on the old endpoint; the
    data now reaches the engine as Values data only, where `;` ends it."""
    sql = f"INSERT INTO {leak_table} VALUES ('x'); DROP TABLE {canary}"
    record("multi-statement after VALUES data", call(open_endpoint.port, sql, open_endpoint.token))
    assert canary_rows(open_endpoint, canary) == "3\t6"
