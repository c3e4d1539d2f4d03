"""The fence's rules over ClickHouse's own parser (a chdb session, no endpoint), and the token
file: fail closed, 0600, reused."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from chdb import session as chdb_session

from deploy.local.clickhouse.engine import canonical_sql
from deploy.local.clickhouse.fence_catalogue import SNAPSHOT, engine_rows, snapshot_lines
from deploy.local.clickhouse.fence_settings import check_setting, markdown_table
from deploy.local.clickhouse.fence_tree import parse_tree
from deploy.local.clickhouse.guard import Fence, lex
from deploy.local.clickhouse.protocol import ClickHouseError, split_statement
from deploy.local.clickhouse.token import ensure_token

DOCS = Path(__file__).parents[2] / "docs" / "ops" / "sql-fence.md"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real chdb session: ClickHouse's own parser, without an endpoint."""
    owner = chdb_session.Session(str(tmp_path_factory.mktemp("fence-rules")))
    yield owner
    owner.close()


@pytest.fixture(scope="module")
def parser(session: Any) -> Callable[[str, dict[str, str] | None], None]:
    """The fence as the engine applies it: canonical text first, then its parse."""
    combinators = session.query("SELECT name FROM system.aggregate_function_combinators", "TSV")
    fence = Fence(combinators.bytes().decode().split())

    def check(sql: str, binds: dict[str, str] | None = None) -> None:
        fence.check(session, canonical_sql(session, sql), binds or {})

    return check


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM brandNewRemoteThing('x')",  # unknown to the allowlist: refused
        "SELECT brandNewFunction(1)",
        "CREATE TABLE t (a UInt8) ENGINE = S3('x')",
        "CREATE TABLE t (a UInt8) ENGINE = S3",
        "SELECT 1 SETTINGS format_template_row = 'x'",
        "INSERT INTO t SETTINGS input_format_values_interpret_expressions = 1 FORMAT Values",
        "SELECT 1 PARALLEL WITH SELECT 2",
        "SELECT * FROM `/etc/passwd`",
        "SELECT * FROM `C:\\\\passwd`",
        "SELECT 1 AS `a\nFunction numbers`",
        "SELECT (SELECT 1 SETTINGS additional_result_filter = 'x')",
        "EXPLAIN SYSTEM FLUSH LOGS",
        "SELECT * APPLY(file) FROM t",
        "SELECT 1 SETTINGS max_threads = 1e9",
        "CREATE TABLE t (a UInt8 CODEC(AES_128_GCM_SIV)) ENGINE = Memory",
        "CREATE TABLE t (a UInt8) ENGINE = Log SETTINGS disk = disk(type = 'local', path = '')",
    ],
)
def test_refused_fail_closed(parser: Callable[[str], None], sql: str) -> None:
    with pytest.raises(ClickHouseError) as err:
        parser(sql)
    assert err.value.code == 497 and "Refused by the embedded endpoint" in err.value.text


def test_identifier_parameters_must_be_plain_names(parser: Callable[[str, dict[str, str]], None]) -> None:
    parser("SELECT * FROM {t:Identifier} WHERE {x:String} = ''", {"t": "system.one", "x": "a"})
    with pytest.raises(ClickHouseError, match="plain name"):
        parser("SELECT * FROM {t:Identifier}", {"t": "/etc/passwd"})


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM numbers(3)",
        "SELECT path, file, url FROM t WHERE path = 'file(x)'",
        "CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a",
        "SELECT 1 SETTINGS max_threads = 2",
        "SELECT sumIf(1, 1), uniqStateIf(1, 1), countOrNull(), SUM(1), COUNT()",
        "SELECT name FROM system.settings WHERE name = 'max_threads'",
        "EXPLAIN indexes = 1 SELECT 1",
        "SET param_x = 'a'",
    ],
)
def test_ordinary_sql_passes(parser: Callable[[str], None], sql: str) -> None:
    parser(sql)


def test_lexer_keeps_strings_whole() -> None:
    assert lex(r"SELECT 'a\'b(' , `x y`(") == [
        ("word", "SELECT"), ("string", r"a\'b("), ("punct", ","), ("quoted", "x y"), ("punct", "("),
    ]  # fmt: skip


def test_tree_with_a_smuggled_line_is_refused() -> None:
    """A name holding a line break adds a line to EXPLAIN AST's print-out: unreadable, refused."""
    honest = "SelectQuery (children 1)\n ExpressionList (children 1)\n  Identifier a\n"
    assert parse_tree(honest).children[0].children[0].name == "a"
    smuggled = honest.replace("Identifier a", "Identifier a\n   Function file")
    for dump in (honest + "Function file\n", smuggled):
        with pytest.raises(ClickHouseError, match="could not be read|not one tree"):
            parse_tree(dump)


@pytest.mark.parametrize(
    ("name", "value"),
    [("format_schema", "x"), ("user_files_path", "/"), ("output_format_schema", "x"),
     ("input_format_record_errors_file_path", "x"), ("into_outfile_create_parent_directories", "1"),
     ("format_template_row", "x"), ("max_threads;", "1"), ("a b", "1"), ("", "1"),
     ("filter", "1"), ("additional_result_filter", "1"), ("additional_table_filters", "{}"),
     ("format_avro_schema_registry_url", "http://x"), ("max_threads", "-1"), ("max_threads", "1; x"),
     ("readonly", "3"), ("session_timezone", "UTC'; DROP"), ("date_time_input_format", "x")],
)  # fmt: skip
def test_settings_refused(name: str, value: str) -> None:
    with pytest.raises(ClickHouseError):
        check_setting(name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [("max_threads", "4"), ("readonly", "1"), ("date_time_input_format", "best_effort"),
     ("session_timezone", "Europe/Berlin"), ("final", "true"), ("param_x", "anything")],
)  # fmt: skip
def test_ordinary_settings_allowed(name: str, value: str) -> None:
    check_setting(name, value)


def test_docs_show_the_settings_allowlist_as_defined() -> None:
    """docs/ops/sql-fence.md shows the table fence_settings renders (the site's build fills the
    marker from ``markdown_table``: one definition)."""
    assert "<!-- generated: sql_settings -->" in DOCS.read_text()
    assert "| `insert_quorum` |" in markdown_table()


def test_function_snapshot_matches_this_chdb(session: Any) -> None:
    """A chdb upgrade changes system.functions: the fence refuses the new names until they are
    reviewed and the snapshot regenerated (see fence_catalogue.py); this test names them."""
    listed = SNAPSHOT.read_text().splitlines()
    generated = snapshot_lines(engine_rows(session))
    assert sorted(set(generated) - set(listed)) == [], "new functions: review and regenerate the snapshot"
    assert sorted(set(listed) - set(generated)) == [], "functions gone: regenerate the snapshot"


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
