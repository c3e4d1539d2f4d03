"""Issue 21: SQL hid inside setting values. ``filter``, ``additional_result_filter`` and
``additional_table_filters`` hold SQL that ClickHouse runs; sent as a URL setting or in a
``SETTINGS`` clause they ran ``file()`` and ``url()`` (the old fence checked names only), and
``format_avro_schema_registry_url`` made the engine call a URL. Now settings are an allowlist
with their values checked, in URL parameters, ``SETTINGS`` (at any depth) and ``SET`` alike."""

from __future__ import annotations

import pytest

from tests.attack.conftest import Endpoint, canary_rows
from tests.attack.effects import Witness, assert_refused
from tests.attack.raw import build, call, exchange, record

pytestmark = pytest.mark.integration


def _values(witness: Witness, canary: str) -> dict[str, str]:
    """Each SQL-bearing setting with a value that reads the secret file or calls the listener."""
    reads = f"(SELECT count() FROM file('{witness.outside / 'secret.txt'}', 'LineAsString')) > 0"
    calls = f"(SELECT count() FROM url('{witness.url}', 'LineAsString', 's String')) > 0"
    return {
        "filter (file)": f"filter={reads}",
        "filter (url)": f"filter={calls}",
        "additional_result_filter (file)": f"additional_result_filter={reads}",
        "additional_result_filter (url)": f"additional_result_filter={calls}",
        "additional_table_filters (file)": f"additional_table_filters={{'{canary}': '{_escaped(reads)}'}}",
        "additional_table_filters (url)": f"additional_table_filters={{'{canary}': '{_escaped(calls)}'}}",
        "format_avro_schema_registry_url": f"format_avro_schema_registry_url={witness.url}",
    }


def _escaped(sql: str) -> str:
    return sql.replace("'", "\\'")


def _quoted(value: str) -> str:
    return value if value.startswith("{") else "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


CASES = sorted(
    ["filter (file)", "filter (url)", "additional_result_filter (file)", "additional_result_filter (url)",
     "additional_table_filters (file)", "additional_table_filters (url)", "format_avro_schema_registry_url"]
)  # fmt: skip
AVRO_READ = "SELECT * FROM format(AvroConfluent, 'a String', unhex('0000000001'))"


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    "where", ["URL parameter", "URL parameter, GET", "SETTINGS", "nested SETTINGS", "SET"]
)
def test_sql_bearing_setting_refused(
    open_endpoint: Endpoint, canary: str, witness: Witness, case: str, where: str
) -> None:
    name, _, value = _values(witness, canary)[case].partition("=")
    target = AVRO_READ if name.startswith("format_avro") else f"SELECT n FROM {canary}"
    port, token = open_endpoint.port, open_endpoint.token
    with witness.watching():
        if where.startswith("URL parameter"):
            method = "GET" if where.endswith("GET") else "POST"
            params = {name: value, **({"query": target} if method == "GET" else {})}
            body = b"" if method == "GET" else target.encode()
            answer = exchange(port, build(port, method, params=params, body=body, token=token))
        elif where == "SETTINGS":
            answer = call(port, f"{target} SETTINGS {name} = {_quoted(value)}", token)
        elif where == "nested SETTINGS":
            answer = call(port, f"SELECT * FROM ({target} SETTINGS {name} = {_quoted(value)})", token)
        else:
            answer = call(port, f"SET {name} = {_quoted(value)}", token)
        witness.saw(record(f"{case} as {where}", answer))
        assert_refused(answer)
    assert canary_rows(open_endpoint, canary) == "3\t6"


@pytest.mark.parametrize(
    ("name", "value"),
    [("max_threads", "1; DROP TABLE x"), ("max_threads", "99999"), ("max_execution_time", "-1"),
     ("date_time_input_format", "best_effort'"), ("session_timezone", "../../etc/passwd"),
     ("insert_deduplication_token", "a b"), ("format_schema", "x:M"), ("log_comment", "x")],
)  # fmt: skip
def test_allowed_names_with_bad_values_and_unlisted_names(
    open_endpoint: Endpoint, name: str, value: str
) -> None:
    port, token = open_endpoint.port, open_endpoint.token
    answer = record(
        f"?{name}={value[:20]}",
        exchange(port, build(port, params={name: value}, body=b"SELECT 1", token=token)),
    )
    assert_refused(answer, name)
    clause = call(port, f"SELECT 1 SETTINGS {name} = {_quoted(value)}", token)
    # refused by the fence (497), or already by ClickHouse's parser, which reads typed values (27, 36)
    assert clause.status >= 400 and any(f"Code: {c}." in clause.text for c in (497, 27, 36)), clause.text


def test_project_settings_still_accepted(open_endpoint: Endpoint) -> None:
    """The negative control: what the project's clients send passes, in both places."""
    port, token = open_endpoint.port, open_endpoint.token
    sent = {"date_time_input_format": "best_effort", "cast_string_to_dynamic_use_inference": "1",
            "do_not_merge_across_partitions_select_final": "1", "max_threads": "2",
            "max_execution_time": "30"}  # fmt: skip
    answer = exchange(port, build(port, params=sent, body=b"SELECT getSetting('max_threads')", token=token))
    assert (answer.status, answer.body) == (200, b"2\n"), answer.text
    clause = call(
        port,
        "SELECT getSetting('max_result_rows') SETTINGS max_result_rows = 10, result_overflow_mode = 'break'",
        token,
    )
    assert (clause.status, clause.body) == (200, b"10\n"), clause.text
