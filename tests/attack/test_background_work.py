"""Issue 21: work outlived the request. A refreshable materialized view kept calling out every
2 s with no client connected (and dictionaries reload by their LIFETIME, refused in
test_outbound.py). A REFRESH clause is refused wherever it appears, so nothing is scheduled."""

from __future__ import annotations

import time

import pytest

from tests.attack.conftest import Endpoint
from tests.attack.effects import Witness, assert_refused
from tests.attack.raw import call, record

pytestmark = pytest.mark.integration


_VIEW = "CREATE MATERIALIZED VIEW attack.tick"
_TICK = "AS SELECT 'tick' AS s"


@pytest.fixture
def ticks(open_endpoint: Endpoint, canary: str) -> str:
    port, token = open_endpoint.port, open_endpoint.token
    for sql in (
        "CREATE TABLE IF NOT EXISTS attack.ticks (s String) ENGINE = Memory",
        "TRUNCATE TABLE attack.ticks",
    ):
        assert call(port, sql, token).status == 200
    return "attack.ticks"


@pytest.mark.parametrize(
    ("name", "sql"),
    [
        ("refreshable MV calling url()", f"{_VIEW} REFRESH EVERY 1 SECOND TO {{ticks}} "
         "AS SELECT s FROM url('{url}', 'LineAsString', 's String')"),
        ("refreshable MV, harmless body", f"{_VIEW} REFRESH EVERY 1 SECOND TO {{ticks}} {_TICK}"),
        ("refreshable MV, APPEND", f"{_VIEW} REFRESH AFTER 1 SECOND APPEND TO {{ticks}} {_TICK}"),
        ("ALTER ... MODIFY REFRESH", "ALTER TABLE attack.tick MODIFY REFRESH EVERY 1 SECOND"),
    ],
)  # fmt: skip
def test_nothing_is_scheduled(
    open_endpoint: Endpoint, witness: Witness, ticks: str, name: str, sql: str
) -> None:
    port, token = open_endpoint.port, open_endpoint.token
    with witness.watching(wait_s=2.5):  # a view refreshing every second would have called twice
        answer = witness.saw(record(name, call(port, sql.format(ticks=ticks, url=witness.url), token)))
        assert_refused(answer)
    time.sleep(0.5)
    rows = call(port, f"SELECT count() FROM {ticks}", token)
    assert (rows.status, rows.body) == (200, b"0\n"), rows.text
    views = call(port, "SELECT count() FROM system.view_refreshes", token)
    assert views.status == 200 and views.body == b"0\n", views.text
