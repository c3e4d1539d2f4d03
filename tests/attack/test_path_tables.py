"""Issue 21: any file was read. chdb's ``default`` database was clickhouse-local's Overlay over a
Filesystem database, so a path in back-quotes named a table: ``SELECT * FROM `/etc/passwd```
returned the file. The fence refuses a table name that is a path wherever it appears (the
sandbox branch also stops serving the Filesystem database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.settings import Settings
from tests.attack.conftest import Endpoint
from tests.attack.effects import Witness, assert_refused
from tests.attack.raw import call, record

pytestmark = pytest.mark.integration

FORMS = {
    "FROM `<path>`": "SELECT * FROM `{path}`",
    "FROM default.`<path>`": "SELECT * FROM default.`{path}`",
    "in a subquery": "SELECT count() FROM (SELECT * FROM `{path}`)",
    "in a JOIN": "SELECT * FROM system.one AS o JOIN `{path}` AS p ON 1",
    "DESCRIBE": "DESCRIBE TABLE `{path}`",
    "SHOW CREATE": "SHOW CREATE TABLE `{path}`",
    "INSERT SELECT": "INSERT INTO attack.leak SELECT * FROM `{path}`",
    "as an Identifier parameter": "SELECT * FROM {{t:Identifier}}",
}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("target", ["secret file", "token file", "/etc/passwd"])
def test_path_as_table_name(
    open_endpoint: Endpoint, witness: Witness, secret_file: tuple[Path, str], form: str, target: str
) -> None:
    path = {"secret file": secret_file[0], "token file": Settings().clickhouse_token_file}.get(
        target, Path("/etc/passwd")
    )
    sql = FORMS[form].format(path=path)
    params = {"param_t": str(path)}
    with witness.watching():
        answer = witness.saw(
            record(
                f"path table, {form}",
                call(open_endpoint.port, sql, open_endpoint.token, "GET", params=params),
            )
        )
        assert_refused(answer)
    assert open_endpoint.token not in answer.text
    assert "root:x:0:0" not in answer.text
