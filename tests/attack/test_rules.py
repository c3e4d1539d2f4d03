"""The fence's rules and the token file on their own (no service): fail closed, 0600, reused."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deploy.local.clickhouse.guard import Fence, lex, setting_refusal
from deploy.local.clickhouse.protocol import ClickHouseError, split_statement
from deploy.local.clickhouse.token import ensure_token

FENCE = Fence(["numbers", "file", "url", "brandNewRemoteThing"], ["MergeTree", "File", "S3"])


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM brandNewRemoteThing('x')",  # unknown to the allowlist: refused
        "CREATE TABLE t (a UInt8) ENGINE = S3('x')",
        "CREATE TABLE t (a UInt8) ENGINE = S3",
        "SELECT 'unterminated",
        "SELECT `unterminated",
        "SELECT 1 SETTINGS format_template_row = 'x'",
        "INSERT INTO t SETTINGS input_format_values_interpret_expressions = 1 FORMAT Values",
    ],
)
def test_refused_fail_closed(sql: str) -> None:
    with pytest.raises(ClickHouseError) as err:
        FENCE.check(sql)
    assert err.value.code == 497 and "Refused by the embedded endpoint" in err.value.text


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM numbers(3)",
        "SELECT path, file, url FROM t WHERE path = 'file(x)'",
        "CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a",
        "SELECT 1 SETTINGS max_threads = 2",
        "SELECT {x:String}",
    ],
)
def test_ordinary_sql_passes(sql: str) -> None:
    FENCE.check(sql)


def test_lexer_keeps_strings_whole() -> None:
    assert lex(r"SELECT 'a\'b(' , `x y`(") == [
        ("word", "SELECT"), ("string", r"'a\'b('"), ("punct", ","), ("quoted", "x y"), ("punct", "("),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "name",
    ["format_schema", "user_files_path", "output_format_schema", "input_format_record_errors_file_path",
     "into_outfile_create_parent_directories", "format_template_row", "max_threads;", "a b", ""],
)  # fmt: skip
def test_setting_names_refused(name: str) -> None:
    assert setting_refusal(name) is not None


@pytest.mark.parametrize("name", ["max_threads", "log_profile_events", "max_http_get_redirects", "readonly"])
def test_ordinary_setting_names_allowed(name: str) -> None:
    assert setting_refusal(name) is None


def test_values_data_is_split_from_the_statement() -> None:
    sql, fmt, data = split_statement("", b"INSERT INTO t VALUES ('x'); DROP TABLE t")
    assert (sql, fmt, data) == ("INSERT INTO t", "Values", b" ('x'); DROP TABLE t")


def test_token_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "home" / "clickhouse.token"
    first = ensure_token(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32 and ensure_token(path) == first
    assert ensure_token(tmp_path / "other" / "clickhouse.token") != first


def test_token_concurrent_starts_agree(tmp_path: Path) -> None:
    path = tmp_path / "clickhouse.token"
    with ThreadPoolExecutor(8) as pool:
        tokens = set(pool.map(lambda _: ensure_token(path), range(32)))
    assert len(tokens) == 1 and list(tmp_path.iterdir()) == [path]


def test_token_file_opened_up_is_closed_again(tmp_path: Path) -> None:
    path = tmp_path / "clickhouse.token"
    ensure_token(path)
    path.chmod(0o644)
    ensure_token(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_damaged_token_file_stops_startup(tmp_path: Path) -> None:
    path = tmp_path / "clickhouse.token"
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(RuntimeError, match="damaged"):
        ensure_token(path)


def test_clients_send_the_token_only_to_this_machine(tmp_path: Path) -> None:
    from schemas.settings import Settings
    from sinks.clickhouse.client import password_for

    token = ensure_token(tmp_path / "clickhouse.token")
    local = Settings(data_dir=tmp_path, clickhouse_url="http://127.0.0.1:8123")
    assert password_for(local) == token
    assert password_for(local.model_copy(update={"clickhouse_url": "http://ch.example:8123"})) == ""
    with_password = Settings(data_dir=tmp_path, clickhouse_password="pw")
    assert password_for(with_password) == "pw"
    assert password_for(Settings(data_dir=tmp_path / "no-install")) == ""
