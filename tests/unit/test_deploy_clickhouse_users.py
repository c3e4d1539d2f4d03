"""deploy/clickhouse/users.sql gives each program only what it does: every statement parses as
ClickHouse SQL (chdb's parser), the worker and payroll may insert exactly into the tables their
code writes (derived from the modules, not listed twice), and only `callfloor migrate` runs DDL.
Not run against a server here: chdb has no writable access storage (docs/ops/deployment.md)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import chdb

from schemas.settings import Settings
from sinks.clickhouse.cluster import local
from sinks.clickhouse.ddl import CALLS_TABLE, PARTITIONS_TABLE, STATEMENTS
from sinks.clickhouse.payroll_claims import CLAIMS
from sinks.clickhouse.payroll_ddl import CLOSES, PAID, payroll_statements
from sinks.clickhouse.schema_version import schema_statements
from sinks.clickhouse.targets import TARGETS_TABLE, VERSIONS_TABLE
from tests.unit.cluster_recording import CREATED

USERS_SQL = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse" / "users.sql"
GRANT = re.compile(r"^GRANT (?P<what>.+?) ON (?P<on>\S+) TO (?P<role>\w+)$", re.S)
VIEW_TARGET = re.compile(rf"MATERIALIZED VIEW IF NOT EXISTS \w+ TO (\w+)\s+AS SELECT .* FROM {CALLS_TABLE}\b",
                         re.S)  # fmt: skip
DDL_WORDS = ("CREATE", "ALTER", "DROP", "TRUNCATE", "ACCESS", "ALL", "OPTION", "SYSTEM", "INTROSPECTION")


def statements() -> list[str]:
    body = "\n".join(line for line in USERS_SQL.read_text().splitlines() if not line.startswith("--"))
    return [" ".join(s.split()) for s in body.split(";") if s.strip()]


def grants() -> dict[str, dict[str, set[str]]]:
    """role -> privilege -> what it is granted on."""
    out: dict[str, dict[str, set[str]]] = {}
    for statement in statements():
        if (m := GRANT.match(statement)) is None:
            continue
        for privilege in (p.strip() for p in m["what"].split(",")):
            out.setdefault(m["role"], {}).setdefault(privilege, set()).add(m["on"])
    return out


def with_local(tables: set[str]) -> set[str]:
    return {f"callfloor.{t}" for name in tables for t in {name, local(name)}}


def test_every_statement_parses() -> None:
    assert len(statements()) >= 20
    for statement in statements():
        chdb.query(f"EXPLAIN AST {statement}", "CSV")  # raises on a syntax error


def test_the_worker_inserts_only_where_its_code_writes() -> None:
    fed_by_calls = {m[1] for s in (*STATEMENTS, *payroll_statements("UTC")) if (m := VIEW_TARGET.search(s))}
    assert fed_by_calls == {"call_corrected", "call_versions"}
    writes = {CALLS_TABLE, PARTITIONS_TABLE, TARGETS_TABLE, VERSIONS_TABLE} | fed_by_calls
    worker = grants()["callfloor_worker_role"]
    assert worker["INSERT"] == with_local(writes)
    assert worker["SELECT"] == {"callfloor.*"} and set(worker) == {"SELECT", "INSERT"}


def test_payroll_inserts_only_what_a_close_writes_and_readers_only_read() -> None:
    roles = grants()
    assert roles["callfloor_payroll_role"] == {"SELECT": {"callfloor.*"},
                                               "INSERT": {f"callfloor.{t}" for t in (CLOSES, PAID, CLAIMS)}}
    assert roles["callfloor_reader_role"] == {"SELECT": {"callfloor.*"}}


def test_only_migrate_runs_ddl_and_nobody_manages_access() -> None:
    for role, privileges in grants().items():
        words = {w for p in privileges for w in p.split()}
        if role == "callfloor_migrate_role":
            assert not words & {"ACCESS", "ALL", "OPTION", "TRUNCATE", "SYSTEM"}, privileges
            assert "DROP TABLE" not in privileges and "DROP DATABASE" not in privileges
            continue
        assert not words & set(DDL_WORDS), f"{role}: {privileges}"
    tables = {m[1] for s in schema_statements(Settings()) if (m := CREATED.match(s))}
    granted = {on.split(".", 1)[1] for p in grants().values() for ons in p.values() for on in ons}
    assert granted - {"*"} <= tables | {local(t) for t in tables}, "a grant names a table the schema lacks"


def test_each_k8s_workload_reaches_clickhouse_as_its_own_user() -> None:
    from tests.unit.test_deploy_k8s import rendered

    objects = rendered()
    secrets = [doc for doc in objects if doc["kind"] == "Secret"]
    users = {doc["metadata"]["name"]: doc["stringData"]["CALLFLOOR_CLICKHOUSE_USER"]
             for doc in secrets if "CALLFLOOR_CLICKHOUSE_USER" in doc.get("stringData", {})}  # fmt: skip
    roles = set(grants())
    wanted = {"callfloor-migrate": "callfloor_migrate", "callfloor-worker": "callfloor_worker",
              "callfloor-wallboard": "callfloor_reader"}  # fmt: skip
    for doc in objects:
        if doc["kind"] not in ("Deployment", "Job") or doc["metadata"]["name"].startswith("callfloor-topics"):
            continue
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        last = container["envFrom"][-1]["secretRef"]["name"]
        workload = next(w for w in wanted if doc["metadata"]["name"].startswith(w))
        assert users[last] == wanted[workload], (doc["metadata"]["name"], last)
        assert f"{users[last]}_role" in roles


CREATE_USERS = USERS_SQL.parent / "create-users.sh"
RECORDING_CLIENT = """#!/bin/sh
# stands in for `clickhouse client`: records the SQL it is given (stdin or --query)
while [ $# -gt 0 ]; do
  if [ "$1" = "--query" ]; then printf '%s;\\n' "$2" >> "$RECORD"; exit 0; fi
  shift
done
cat >> "$RECORD"
"""


def test_compose_makes_one_user_per_role_and_no_password_reaches_the_sql(tmp_path: Path) -> None:
    import hashlib

    from tests.unit.test_deploy_files import bind_mounts, compose

    services = compose()["services"]
    mounts = dict(bind_mounts(services["clickhouse"]))
    assert mounts["../clickhouse/create-users.sh"].startswith("/docker-entrypoint-initdb.d/")
    assert mounts["../clickhouse/users.sql"] == "/callfloor/users.sql"
    (tmp_path / "clickhouse").write_text(RECORDING_CLIENT)
    (tmp_path / "clickhouse").chmod(0o755)
    script = CREATE_USERS.read_text().replace("/callfloor/users.sql", str(USERS_SQL))
    passwords = {who: f"pw 'with' $quotes; {who}" for who in ("MIGRATE", "WORKER", "PAYROLL", "READER")}
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "RECORD": str(tmp_path / "sql"), "CLICKHOUSE_USER": "admin",
           "CLICKHOUSE_PASSWORD": "x", **{f"CALLFLOOR_{who}_PASSWORD": pw for who, pw in passwords.items()}}
    done = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    sql = (tmp_path / "sql").read_text()
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    statements = [" ".join(s.split()) for s in body.split(";") if s.strip()]
    for statement in statements:
        chdb.query(f"EXPLAIN AST {statement}", "CSV")
    for who, password in passwords.items():
        user = f"callfloor_{who.lower()}"
        digest = hashlib.sha256(password.encode()).hexdigest()
        assert f"CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH sha256_hash BY '{digest}'" in statements
        assert f"GRANT {user}_role TO {user}" in statements and f"{user}_role" in grants()
        assert password not in sql
    made = {f"callfloor_{who.lower()}" for who in passwords}
    users = {name: s["environment"].get("CALLFLOOR_CLICKHOUSE_USER") for name, s in services.items()
             if isinstance(s.get("environment"), dict)}  # fmt: skip
    assert {user for user in users.values() if user} <= made, users
    assert services["worker"]["environment"]["CALLFLOOR_CLICKHOUSE_USER"] == "callfloor_worker"
    assert services["migrate"]["environment"]["CALLFLOOR_CLICKHOUSE_USER"] == "callfloor_migrate"
