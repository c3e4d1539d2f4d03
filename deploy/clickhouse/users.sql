-- Least privilege for callfloor in ClickHouse: one role per kind of work, run once by an
-- administrator (a user with access management), before `callfloor migrate`:
--   clickhouse client --user admin --ask-password --multiquery < deploy/clickhouse/users.sql
-- On a cluster, add ON CLUSTER '<cluster>' after each role and grant (or use replicated access
-- storage). Then create one user per role with your own passwords (examples at the end).
-- The database is `callfloor` (CALLFLOOR_CLICKHOUSE_DATABASE); `_local` tables exist on a
-- cluster only. tests/unit/test_deploy_clickhouse_users.py checks every statement parses and
-- that the grants match what each program writes (sinks/clickhouse/*.py).

-- callfloor migrate: the schema (tables, views, materialized views; ON CLUSTER on a cluster),
-- the call_corrected backfill and the schema version. No access management, no other database.
CREATE ROLE IF NOT EXISTS callfloor_migrate_role;
GRANT CREATE DATABASE ON callfloor.* TO callfloor_migrate_role;
GRANT CREATE TABLE, CREATE VIEW, DROP VIEW, ALTER ADD COLUMN, SELECT, INSERT ON callfloor.* TO callfloor_migrate_role;
GRANT CLUSTER ON *.* TO callfloor_migrate_role;

-- callfloor worker: reads (seeding, refreshes) and writes the calls and the targets it loads.
-- No DDL: a worker waits for `callfloor migrate`. The materialized views' targets are listed
-- because, depending on the views' SQL SECURITY, their inserts are checked as the worker's.
CREATE ROLE IF NOT EXISTS callfloor_worker_role;
GRANT SELECT ON callfloor.* TO callfloor_worker_role;
GRANT INSERT ON callfloor.calls TO callfloor_worker_role;
GRANT INSERT ON callfloor.calls_local TO callfloor_worker_role;
GRANT INSERT ON callfloor.call_partitions TO callfloor_worker_role;
GRANT INSERT ON callfloor.call_partitions_local TO callfloor_worker_role;
GRANT INSERT ON callfloor.call_versions TO callfloor_worker_role;
GRANT INSERT ON callfloor.call_versions_local TO callfloor_worker_role;
GRANT INSERT ON callfloor.call_corrected TO callfloor_worker_role;
GRANT INSERT ON callfloor.call_corrected_local TO callfloor_worker_role;
GRANT INSERT ON callfloor.targets TO callfloor_worker_role;
GRANT INSERT ON callfloor.target_versions TO callfloor_worker_role;

-- callfloor payroll run | close | explain: reads everything; a close writes what was paid.
CREATE ROLE IF NOT EXISTS callfloor_payroll_role;
GRANT SELECT ON callfloor.* TO callfloor_payroll_role;
GRANT INSERT ON callfloor.payroll_closes TO callfloor_payroll_role;
GRANT INSERT ON callfloor.payroll_paid TO callfloor_payroll_role;
GRANT INSERT ON callfloor.payroll_close_claims TO callfloor_payroll_role;

-- callfloor report, the wallboard, Grafana and anyone reading: SELECT only.
CREATE ROLE IF NOT EXISTS callfloor_reader_role;
GRANT SELECT ON callfloor.* TO callfloor_reader_role;

-- Users: one per role, with your own passwords (a granted role is a default role); the
-- HTTPS URL keeps them off the wire. Give each program its user (docs/ops/deployment.md):
-- CREATE USER IF NOT EXISTS callfloor_migrate IDENTIFIED WITH sha256_password BY '...';
-- GRANT callfloor_migrate_role TO callfloor_migrate;
-- CREATE USER IF NOT EXISTS callfloor_worker IDENTIFIED WITH sha256_password BY '...';
-- GRANT callfloor_worker_role TO callfloor_worker;
-- CREATE USER IF NOT EXISTS callfloor_payroll IDENTIFIED WITH sha256_password BY '...';
-- GRANT callfloor_payroll_role TO callfloor_payroll;
-- CREATE USER IF NOT EXISTS callfloor_reader IDENTIFIED WITH sha256_password BY '...';
-- GRANT callfloor_reader_role TO callfloor_reader;
