"""The live feeds' entry point (``callfloor ingest --listen`` and ``--format *-db``): runs one until
it is stopped, then prints the summary and closes the producer, as a file import does."""

from __future__ import annotations

import argparse
import sys
from zoneinfo import ZoneInfo

from ingest.clock import LocalClock
from ingest.live import LiveMapper
from ingest.mapping import IngestMapping, MappingError
from ingest.producer import Sink
from ingest.progress import Progress, not_acknowledged
from schemas.settings import Settings


def run_live(settings: Settings, args: argparse.Namespace, mapping: IngestMapping, zone: ZoneInfo,
             sink: Sink) -> int:  # fmt: skip
    """Exit code: 0 stopped cleanly, 2 refused to start (the message says why), 1 Kafka lost records."""
    progress = Progress(total_bytes=None, enabled=False)
    try:
        if args.listen is not None:
            from ingest.leg_journal import LegJournal
            from ingest.listen import journal_path, listen
            from ingest.live import RecentCalls
            from ingest.run import ADAPTERS

            adapter = ADAPTERS[args.fmt](mapping, LocalClock(zone))
            calls = RecentCalls(journal=LegJournal(args.cursor or journal_path(settings, args.listen)))
            mapper = LiveMapper(adapter, mapping, sink, progress, fmt=args.fmt, calls=calls)
            try:
                listen(settings, args.listen, mapper)
            finally:
                calls.close()
        else:
            from ingest.dialer_db import follow_database

            follow_database(settings, args.fmt, args.dsn, args.cursor, mapping, zone, sink, progress)
    except (ValueError, MappingError) as exc:  # ListenError, DialerDbError: what to set, not a traceback
        sink.close()
        print(f"callfloor ingest: {exc}", file=sys.stderr)
        return 2
    progress.summary(0, 0)
    failures = sink.close()
    if failures:
        print(not_acknowledged(failures), file=sys.stderr)
        return 1
    return 0
