"""Issue 21: other servers were reached: ``CREATE NAMED COLLECTION`` then ``aiGenerate(...)``
(also through a read-only GET once the collection existed), and dictionaries with ``HTTP`` or
``CLICKHOUSE`` sources. Each attempt names a listener the test runs on 127.0.0.1; none may be
called, and the statement is refused."""

from __future__ import annotations

import pytest

from tests.attack.conftest import Endpoint
from tests.attack.effects import Witness, assert_refused
from tests.attack.raw import call, record

pytestmark = pytest.mark.integration


def _attempts(url: str, port: int) -> dict[str, str]:
    """Each attempt, aimed at the listener at ``url`` (``port``)."""
    return {
        "CREATE NAMED COLLECTION": (
            f"CREATE NAMED COLLECTION attack_ai AS provider = 'openai', endpoint = '{url}v1', "
            "model = 'm', api_key = 'k'"
        ),
        "aiGenerate": "SELECT aiGenerate('attack_ai', 'hello')",
        "AIGenerate (other case)": "SELECT AIGenerate('attack_ai', 'hello')",
        "aiGenerate in a subquery": "SELECT * FROM (SELECT aiGenerate('attack_ai', 'hello') AS a)",
        "dictionary HTTP source": (
            "CREATE DICTIONARY attack.dh (k UInt64, v String) PRIMARY KEY k "
            f"SOURCE(HTTP(url '{url}' format 'TabSeparated')) LAYOUT(FLAT()) LIFETIME(1)"
        ),
        "dictionary CLICKHOUSE source": (
            "CREATE DICTIONARY attack.dc (k UInt64, v String) PRIMARY KEY k "
            f"SOURCE(CLICKHOUSE(host '127.0.0.1' port {port} user 'default' table 'x')) "
            "LAYOUT(FLAT()) LIFETIME(1)"
        ),
        "url() table function": f"SELECT * FROM url('{url}', 'LineAsString', 's String')",
        "INSERT INTO FUNCTION url()": f"INSERT INTO FUNCTION url('{url}', 'CSV', 'a UInt8') SELECT 1",
    }


NAMES = sorted(_attempts("", 0))


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("name", NAMES)
def test_no_other_server_is_reached(
    open_endpoint: Endpoint, witness: Witness, name: str, method: str
) -> None:
    sql = _attempts(witness.url, witness.port)[name]
    with witness.watching(wait_s=1.5):  # a dictionary with LIFETIME(1) would have called by then
        answer = witness.saw(
            record(f"{method} {name}", call(open_endpoint.port, sql, open_endpoint.token, method))
        )
        assert_refused(answer)
    left = call(
        open_endpoint.port,
        "SELECT count() FROM system.dictionaries WHERE database = 'attack'",
        open_endpoint.token,
    )
    assert (left.status, left.body) == (200, b"0\n"), left.text
