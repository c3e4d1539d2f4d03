"""``callfloor ingest``: read dialer files, map each call to CDR v1, produce it; rejects to the DLQ.

A record that cannot be mapped is reported (file, line, reason) and dead-lettered, and the
next one is read. What stops an import: a bad command line or mapping, and (``verdict``) a
first stretch of records that is mostly unreadable or whose times fit another time zone;
then nothing is sent.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.adapter import Adapter
from ingest.asterisk import AsteriskCsvAdapter, AsteriskJsonAdapter
from ingest.build import call_to_cdr
from ingest.clock import LocalClock, ZoneCheck
from ingest.follow import follow_lines
from ingest.freeswitch import FreeswitchJsonAdapter
from ingest.legs import Leg, LegCollapser
from ingest.mapping import IngestMapping
from ingest.producer import Sink, dead_letter_headers
from ingest.progress import Progress
from ingest.rejects import IngestRejection, Unmappable
from ingest.sources import STDIN, LineFeed, SourceRecord, input_files, numbered_lines, stdin_lines
from ingest.verdict import DEFAULT_LIMIT, PROBATION, Holding, ImportStopped, RejectLimit
from ingest.vicidial import VicidialCsvAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    adapter.name: adapter
    for adapter in (AsteriskCsvAdapter, AsteriskJsonAdapter, FreeswitchJsonAdapter, VicidialCsvAdapter)
}


@dataclass(frozen=True)
class IngestJob:
    fmt: str
    target: str
    mapping: IngestMapping
    zone: ZoneInfo
    follow: bool = False
    progress: bool = True
    window: int = 2000
    max_rejects: RejectLimit = DEFAULT_LIMIT
    probation: int = PROBATION  # outcomes held back and judged first (0: none, e.g. a live feed)


class Importer:
    """Records -> legs -> calls -> sink, counting as it goes."""

    def __init__(self, job: IngestJob, sink: Sink, progress: Progress) -> None:
        self.job, self.sink, self.progress = job, sink, progress
        self.adapter = ADAPTERS[job.fmt](job.mapping, LocalClock(job.zone))
        self.collapser = LegCollapser(window=job.window)
        self.legs_in_calls = 0
        self.bytes_before = 0  # of the files already read
        self.origin = job.target
        # probation (see ``verdict``): what would be sent is held until the first records are judged
        self.holding: Holding | None = Holding(job.probation) if job.probation > 0 else None
        self.zone_check = ZoneCheck(job.zone) if job.mapping.clock_check else None

    def reject(self, origin: str, line: int, raw: bytes, key: str, error: Unmappable) -> None:
        if self.holding is not None:
            unreadable = (f"{origin}:{line}: {error.detail}"
                          if error.reason == IngestRejection.UNREADABLE_RECORD else None)  # fmt: skip
            if self.holding.hold(lambda: self._reject(origin, line, raw, key, error), unreadable=unreadable):
                self.settle()
            return
        self._reject(origin, line, raw, key, error)

    def _reject(self, origin: str, line: int, raw: bytes, key: str, error: Unmappable) -> None:
        self.progress.reject(origin, line, error.reason, error.detail)
        headers = dead_letter_headers(error.reason, error.detail, origin, line, self.job.fmt)
        self.sink.dead_letter(key, raw, headers)

    def send(self, rep_id: str, value: bytes) -> None:
        if self.holding is not None:
            if self.holding.hold(lambda: self.sink.call(rep_id, value)):
                self.settle()
            return
        self.sink.call(rep_id, value)

    def settle(self) -> None:
        """End probation: stop (nothing sent) if the file cannot be right, else send what was held."""
        holding, self.holding = self.holding, None
        if holding is None:
            return
        if holding.mostly_unreadable():
            raise ImportStopped(
                f"{holding.unreadable} of the first {holding.outcomes} records are unreadable "
                f"(first: {holding.first_problem}). {self.adapter.unreadable_advice()} Nothing was sent."
            )
        advice = self.zone_check.advice(self.origin) if self.zone_check is not None else None
        if advice is not None:
            raise ImportStopped(advice)
        holding.release()

    def emit(self, calls: Iterable[list[Leg]]) -> None:
        mapping = self.job.mapping
        for legs in calls:
            try:
                rep_id, value = call_to_cdr(
                    legs,
                    direction=mapping.direction,
                    currency=mapping.currency,
                    tried=self.adapter.resolver.tried,
                )
            except Unmappable as error:
                first = legs[0]
                raw = b"\n".join(leg.raw for leg in legs)
                self.reject(first.origin, first.line, raw, first.call_id, error)
                continue
            self.send(rep_id, value)
            self.progress.calls += 1
            self.legs_in_calls += len(legs)

    def feed(self, records: Iterable[SourceRecord], feed: LineFeed) -> None:
        for record in records:
            self.progress.advance(self.bytes_before + feed.bytes_read)
            if record.problem is not None:
                error = Unmappable(IngestRejection.UNREADABLE_RECORD, record.problem)
                self.reject(record.origin, record.line, record.raw, "", error)
                continue
            try:
                leg = self.adapter.leg(record)
            except Unmappable as error:
                self.reject(record.origin, record.line, record.raw, "", error)
                continue
            if self.holding is not None and self.zone_check is not None:
                uniqueid = self.adapter.creation_id(record)
                if uniqueid:
                    self.zone_check.observe(leg.started, uniqueid)
            self.emit(self.collapser.add(leg))
        self.bytes_before += feed.bytes_read
        self.progress.refresh(self.bytes_before)

    def read(self, lines: Iterable[tuple[int, bytes]], origin: str, *, whole_file: bool) -> None:
        self.origin = origin
        feed = LineFeed(lines)
        self.feed(self.adapter.records(feed, origin, whole_file=whole_file), feed)

    def finish(self) -> None:
        self.emit(self.collapser.flush())
        self.settle()
        self.progress.refresh(self.bytes_before)
        self.sink.flush()

    def idle(self) -> None:
        """While following: a quiet file means its last calls are complete; send them now."""
        self.finish()


def _whole_file(fmt: str, path: Path) -> bool:
    """A FreeSWITCH ``.cdr.json`` file is one (usually pretty-printed) document."""
    return fmt == "freeswitch-json" and path.name.endswith(".json") and not path.name.endswith(".jsonl")


def _file_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as handle:
        yield from numbered_lines(handle)


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Ctrl-C and SIGTERM end ``--follow`` cleanly: open calls are sent, the summary printed."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def run_job(job: IngestJob, sink: Sink, *, stop: threading.Event | None = None) -> Progress:
    """Run one import to its end (or, following, until ``stop``); the caller closes the sink."""
    files = [] if job.target == STDIN else input_files(job.target)
    if job.follow and len(files) != 1:
        raise ValueError("--follow takes one file")
    total = sum(p.stat().st_size for p in files) if files and not job.follow else None
    progress = Progress(total_bytes=total, enabled=job.progress and not job.follow)
    importer = Importer(job, sink, progress)
    try:
        _read_all(job, files, importer, stop)
    except ImportStopped:
        progress.bar.close()
        raise
    collapsed = importer.legs_in_calls - progress.calls
    progress.summary(importer.collapser.duplicate_legs, collapsed, job.max_rejects,
                     len(getattr(sink, "failures", ())))  # fmt: skip
    return progress


def _read_all(job: IngestJob, files: list[Path], importer: Importer, stop: threading.Event | None) -> None:
    if job.target == STDIN:
        importer.read(stdin_lines(), "<stdin>", whole_file=False)
    elif job.follow:
        stop = stop or threading.Event()
        restore = _stop_on_signals(stop)
        try:
            importer.read(follow_lines(files[0], stop, importer.idle), str(files[0]), whole_file=False)
        finally:
            restore()
    else:
        for path in files:
            importer.read(_file_lines(path), str(path), whole_file=_whole_file(job.fmt, path))
    importer.finish()
