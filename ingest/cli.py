"""The body of ``callfloor ingest`` (registered in ``deploy/cli.py``).

Only the argument definitions load with the CLI: every ``callfloor`` command builds the
parser, so the import machinery is imported when ``ingest`` runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.dsn import DSN_FORM
from ingest.verdict import (
    DEFAULT_LIMIT,
    EXIT_KAFKA,
    EXIT_OK,
    EXIT_STOPPED,
    EXIT_TOO_MANY_REJECTS,
    RejectLimit,
)

if TYPE_CHECKING:
    from ingest.producer import KafkaSink
    from schemas.settings import Settings

FORMATS = ("asterisk-csv", "asterisk-json", "freeswitch-json", "vicidial-csv")  # = ingest.run.ADAPTERS
DB_FORMATS = ("vicidial-db", "asterisk-db")  # = ingest.dialer_db.READERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", required=True, choices=FORMATS + DB_FORMATS, dest="fmt")
    parser.add_argument(
        "--mapping", type=Path, help="YAML: where rep/team/campaign/AMD come from, status tables"
    )
    parser.add_argument("--timezone", help="IANA zone of times without an offset (default: mapping, "
                        "then CALLFLOOR_TIMEZONE)")  # fmt: skip
    parser.add_argument("--follow", action="store_true", help="tail a growing file, across rotations")
    parser.add_argument("--dry-run", action="store_true", help="print CDRs on stdout, produce nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (the summary stays)")
    default = str(DEFAULT_LIMIT).replace("%", "%%")  # argparse %-formats help texts
    parser.add_argument("--max-rejects", type=_reject_limit, default=DEFAULT_LIMIT, metavar="N|P%",
                        help="exit 3 when more records than this (a count, or a percentage of the records "
                        f"read, e.g. 2%%) went to the DLQ (default {default})")  # fmt: skip
    parser.add_argument("--listen", metavar="HOST:PORT", help="receive the CDRs a dialer POSTs "
                        "(mod_json_cdr, JSON callbacks), not a PATH; "
                        "see docs/integrate/live-feeds.md")  # fmt: skip
    parser.add_argument("--dsn", help=f"vicidial-db/asterisk-db: {DSN_FORM}")
    parser.add_argument("--cursor", type=Path, help="vicidial-db/asterisk-db: where the read position is "
                        "kept; --listen: where recent calls' legs are kept across restarts "
                        "(default: under CALLFLOOR_DATA_DIR/ingest/)")  # fmt: skip
    parser.add_argument("target", metavar="PATH", nargs="?",
                        help="a file, a folder of files, or - for stdin")  # fmt: skip


def _reject_limit(text: str) -> RejectLimit:
    try:
        return RejectLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--max-rejects: ")) from None


def _fail(message: str) -> int:
    print(f"callfloor ingest: {message}", file=sys.stderr)
    return EXIT_STOPPED


def _kafka_sink(settings: Settings, *, live: bool = False) -> KafkaSink:
    from ingest.live import LIVE_PRODUCER
    from ingest.producer import KafkaSink
    from streams.topics import ensure_topics

    ensure_topics(settings)
    return KafkaSink(settings, **LIVE_PRODUCER) if live else KafkaSink(settings)


def run_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from ingest.mapping import IngestMapping, MappingError, load_mapping
    from ingest.producer import PrintSink, Sink
    from ingest.progress import not_acknowledged
    from ingest.run import IngestJob, run_job

    try:
        mapping = load_mapping(args.mapping) if args.mapping else IngestMapping()
    except MappingError as exc:
        return _fail(str(exc))
    zone_name = args.timezone or mapping.timezone or settings.timezone
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        return _fail(f"--timezone: unknown IANA time zone {zone_name!r}")
    live = args.listen is not None or args.fmt in DB_FORMATS
    if live != (args.target is None):
        return _fail("PATH is read by file formats; --listen and the -db formats read no PATH" if live
                     else "PATH is required (a file, a folder or -), or --listen HOST:PORT")  # fmt: skip
    if mapping.fields and args.listen is None:
        return _fail("the mapping's 'fields' renames what a --listen feed receives; a file is read by its "
                     "format's own names")  # fmt: skip
    if args.fmt in DB_FORMATS and (args.listen is not None or not args.dsn):
        return _fail(f"--format {args.fmt} reads --dsn mysql://... (and does not --listen)")
    job = IngestJob(fmt=args.fmt, target=args.target, mapping=mapping, zone=zone, follow=args.follow,
                    progress=not args.no_progress, max_rejects=args.max_rejects)  # fmt: skip
    if args.follow and args.target == "-":
        return _fail("--follow needs a file, not stdin")
    sink: Sink
    if args.dry_run:
        sink = PrintSink()
    else:
        try:
            sink = _kafka_sink(settings, live=live)
        except Exception as exc:  # noqa: BLE001 - say what could not be reached, not a traceback
            from streams.kafka_config import KafkaAccessError
            from streams.topics import TopicsError

            reason = (str(exc) if isinstance(exc, TopicsError)  # reached, but too few brokers up
                      else f"cannot reach Kafka at {settings.kafka_bootstrap}: "
                      f"{exc if isinstance(exc, KafkaAccessError) else repr(exc)}")  # fmt: skip
            print(f"callfloor ingest: {reason}", file=sys.stderr)
            return EXIT_KAFKA
    if live:
        from ingest.feeds import run_live

        return run_live(settings, args, mapping, zone, sink)
    try:
        progress = run_job(job, sink)
    except (FileNotFoundError, ValueError, MappingError) as exc:
        sink.close()
        return _fail(str(exc))
    except KeyboardInterrupt:
        sink.close()
        print("callfloor ingest: interrupted; what was read before is produced", file=sys.stderr)
        return 130
    failures = sink.close()
    if failures:
        print(not_acknowledged(failures), file=sys.stderr)
        return EXIT_KAFKA
    return EXIT_TOO_MANY_REJECTS if progress.too_many_rejects else EXIT_OK
