"""The body of ``callfloor ingest`` (registered in ``deploy/cli.py``).

Only the argument definitions load with the CLI: every ``callfloor`` command builds the
parser, so the import machinery is imported when ``ingest`` runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.producer import KafkaSink
    from schemas.settings import Settings

FORMATS = ("asterisk-csv", "asterisk-json", "freeswitch-json", "vicidial-csv")  # = ingest.run.ADAPTERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    parser.add_argument(
        "--mapping", type=Path, help="YAML: where rep/team/campaign/AMD come from, status tables"
    )
    parser.add_argument("--timezone", help="IANA zone of times without an offset (default: mapping, "
                        "then CALLFLOOR_TIMEZONE)")  # fmt: skip
    parser.add_argument("--follow", action="store_true", help="tail a growing file, across rotations")
    parser.add_argument("--dry-run", action="store_true", help="print CDRs on stdout, produce nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (the summary stays)")
    parser.add_argument("target", metavar="PATH", help="a file, a folder of files, or - for stdin")


def _fail(message: str) -> int:
    print(f"callfloor ingest: {message}", file=sys.stderr)
    return 2


def _kafka_sink(settings: Settings) -> KafkaSink:
    from ingest.producer import KafkaSink
    from streams.topics import ensure_topics

    ensure_topics(settings)
    return KafkaSink(settings)


def run_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from ingest.mapping import IngestMapping, MappingError, load_mapping
    from ingest.producer import PrintSink, Sink
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
    job = IngestJob(fmt=args.fmt, target=args.target, mapping=mapping, zone=zone, follow=args.follow,
                    progress=not args.no_progress)  # fmt: skip
    if args.follow and args.target == "-":
        return _fail("--follow needs a file, not stdin")
    sink: Sink
    if args.dry_run:
        sink = PrintSink()
    else:
        try:
            sink = _kafka_sink(settings)
        except Exception as exc:  # noqa: BLE001 - say what could not be reached, not a traceback
            from streams.kafka_config import KafkaAccessError

            print(
                f"callfloor ingest: cannot reach Kafka at {settings.kafka_bootstrap}: "
                f"{exc if isinstance(exc, KafkaAccessError) else repr(exc)}",
                file=sys.stderr,
            )
            return 1
    try:
        run_job(job, sink)
    except (FileNotFoundError, ValueError, MappingError) as exc:
        sink.close()
        return _fail(str(exc))
    except KeyboardInterrupt:
        sink.close()
        print("callfloor ingest: interrupted; what was read before is produced", file=sys.stderr)
        return 130
    failures = sink.close()
    if failures:
        return _fail(f"{len(failures)} records were not acknowledged by Kafka: {failures[0]!r}")
    return 0
