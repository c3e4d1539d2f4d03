"""Issue 21: first-word checks were bypassed with ``PARALLEL WITH``: ``SYSTEM ...``,
``ATTACH TABLE ... FROM '<any directory>'`` (which moved a directory into the data directory;
dropping the table then deleted it) and ``CREATE DICTIONARY`` ran as a statement's second half.
The fence reads ClickHouse's parse, where ``PARALLEL WITH`` is a node of its own: refused."""

from __future__ import annotations

import pytest

from tests.attack.conftest import Endpoint, canary_rows
from tests.attack.effects import Witness, assert_refused
from tests.attack.raw import build, call, exchange, record

pytestmark = pytest.mark.integration

SECOND_HALVES = {
    "SYSTEM SHUTDOWN": "SYSTEM SHUTDOWN",
    "SYSTEM DROP MARK CACHE": "SYSTEM DROP MARK CACHE",
    "ATTACH TABLE FROM <dir>": (
        "ATTACH TABLE attack.stolen FROM '{outside}' (s String) ENGINE = MergeTree ORDER BY s"
    ),
    "CREATE DICTIONARY (file source)": (
        "CREATE DICTIONARY attack.pf (k UInt64, v String) PRIMARY KEY k "
        "SOURCE(FILE(path '{outside}/secret.txt' format 'TabSeparated')) LAYOUT(FLAT()) LIFETIME(0)"
    ),
    "DROP TABLE": "DROP TABLE attack.canary",
}


@pytest.mark.parametrize("first", ["SELECT 1", "CREATE TABLE attack.pw2 (n UInt8) ENGINE = Memory"])
@pytest.mark.parametrize("second", sorted(SECOND_HALVES))
def test_parallel_with_refused(
    open_endpoint: Endpoint, canary: str, witness: Witness, first: str, second: str
) -> None:
    sql = f"{first} PARALLEL WITH {SECOND_HALVES[second].format(outside=witness.outside)}"
    with witness.watching():
        answer = witness.saw(
            record(f"PARALLEL WITH {second}", call(open_endpoint.port, sql, open_endpoint.token))
        )
        assert_refused(answer, "PARALLEL WITH")
    port, token = open_endpoint.port, open_endpoint.token
    tables = call(
        port, "SELECT name FROM system.tables WHERE database = 'attack' AND name IN ('stolen', 'pw2')", token
    )
    assert (tables.status, tables.body) == (200, b"")
    assert canary_rows(open_endpoint, canary) == "3\t6"
    assert exchange(port, build(port, "GET", path="/ping")).status == 200, "the endpoint must survive"


@pytest.mark.parametrize("second", sorted(SECOND_HALVES))
def test_second_halves_alone_refused(
    open_endpoint: Endpoint, canary: str, witness: Witness, second: str
) -> None:
    """Each second half on its own is refused too (by kind, not by its first word)."""
    with witness.watching():
        answer = witness.saw(
            call(
                open_endpoint.port, SECOND_HALVES[second].format(outside=witness.outside), open_endpoint.token
            )
        )
        if second == "DROP TABLE":
            assert answer.status == 200, answer.text  # an ordinary statement: the control
            call(
                open_endpoint.port,
                "CREATE TABLE attack.canary (n UInt8) ENGINE = MergeTree ORDER BY n",
                open_endpoint.token,
            )
            call(open_endpoint.port, "INSERT INTO attack.canary VALUES (1), (2), (3)", open_endpoint.token)
        else:
            assert_refused(answer)
    assert canary_rows(open_endpoint, canary) == "3\t6"
