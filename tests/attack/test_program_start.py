"""Issue 21: a program ran. An ``EXECUTABLE_POOL`` dictionary, created behind ``PARALLEL WITH``
(the old fence checked ``CREATE DICTIONARY`` only as a statement's first words), then
``dictGet`` ran ``/bin/sh`` as the endpoint's user, and the pooled child outlived the request."""

from __future__ import annotations

import pytest

from tests.attack.conftest import Endpoint, canary_rows
from tests.attack.effects import Witness, assert_refused
from tests.attack.raw import call, record

pytestmark = pytest.mark.integration


def _dictionary(witness: Witness, source: str) -> str:
    return (
        "CREATE DICTIONARY attack.sh (k UInt64, v String) PRIMARY KEY k "
        f"SOURCE({source}) LAYOUT(CACHE(SIZE_IN_CELLS 16)) LIFETIME(0)"
    )


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_executable_pool_dictionary_behind_parallel_with(
    open_endpoint: Endpoint, canary: str, witness: Witness, method: str
) -> None:
    ran = witness.outside / "ran"
    pool = f"EXECUTABLE_POOL(command 'sh -c \"touch {ran}; cat\"' format 'TabSeparated' size 1)"
    create = f"CREATE TABLE attack.pw (n UInt8) ENGINE = Memory PARALLEL WITH {_dictionary(witness, pool)}"
    port, token = open_endpoint.port, open_endpoint.token
    with witness.watching():
        answer = witness.saw(
            record(f"{method} PARALLEL WITH + EXECUTABLE_POOL", call(port, create, token, method))
        )
        assert_refused(answer, "PARALLEL WITH")
        use = witness.saw(
            record(
                "dictGet on it", call(port, "SELECT dictGet('attack.sh', 'v', toUInt64(1))", token, method)
            )
        )
        assert_refused(use, "dictGet")
    assert not ran.exists()
    left = call(port, "SELECT count() FROM system.dictionaries WHERE name = 'sh'", token)
    assert (left.status, left.body) == (200, b"0\n")
    assert canary_rows(open_endpoint, canary) == "3\t6"


def test_executable_dictionary_on_its_own(open_endpoint: Endpoint, witness: Witness) -> None:
    source = f"EXECUTABLE(command 'touch {witness.outside / 'ran'}' format 'TabSeparated')"
    with witness.watching():
        answer = witness.saw(
            record(
                "CREATE DICTIONARY EXECUTABLE",
                call(open_endpoint.port, _dictionary(witness, source), open_endpoint.token),
            )
        )
        assert_refused(answer)
