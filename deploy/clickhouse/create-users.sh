#!/bin/sh
# compose: the ClickHouse image runs this once, on an empty data directory
# (/docker-entrypoint-initdb.d), as its administrator (CLICKHOUSE_USER, which only this script
# and you use): the roles of users.sql, then one user per program with the password compose
# passes in from .env. Only a password's SHA-256 (hex digits) reaches the SQL.
set -eu
run() { clickhouse client --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" --multiquery "$@"; }
run < /callfloor/users.sql
user() {  # name, password
  hash=$(printf '%s' "$2" | sha256sum | cut -d' ' -f1)
  run --query "CREATE USER IF NOT EXISTS $1 IDENTIFIED WITH sha256_hash BY '$hash'; GRANT $1_role TO $1"
}
user callfloor_migrate "$CALLFLOOR_MIGRATE_PASSWORD"
user callfloor_worker "$CALLFLOOR_WORKER_PASSWORD"
user callfloor_payroll "$CALLFLOOR_PAYROLL_PASSWORD"
user callfloor_reader "$CALLFLOOR_READER_PASSWORD"
