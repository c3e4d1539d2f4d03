"""Hot reload of the targets file, without Faust so it can be tested on its own.

The worker awaits :meth:`TargetsWatcher.check_async` from a timer every few seconds. A
supervisor may save a broken file mid-shift: the floor must keep the targets it
had, the mistake must be reported (once, not every few seconds) and counted,
and the next good save must take effect without a restart.

Reading and parsing run in a thread: a 1 MB file of 10,000 reps took 5.7 s to parse,
and on the event loop that stalled the CDR agent and ``/metrics`` for as long. Only
taking the result into use (a few assignments) happens on the loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from schemas.targets import MAX_BYTES, TargetsError, TargetSet, parse_targets
from schemas.yaml_document import Problem

log = logging.getLogger(__name__)

HISTORY = 8  # loaded sets kept for in_force(); more than enough for future-dated files

Stamp = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class _Probe:
    """What the file held when looked at (off the loop), before any state changes."""

    stamp: Stamp | None = None
    digest: str = ""
    parsed: TargetSet | TargetsError | None = None  # None: not parsed (nothing new to parse)
    unreadable: OSError | None = None


class TargetsWatcher:
    """Holds the targets in force and re-reads the file when it changes.

    ``current`` is the last valid file loaded (``None``: no targets). An invalid,
    unreadable or vanished file never replaces it.
    """

    def __init__(self, path: Path | None, on_error: Callable[[TargetsError], None] | None = None) -> None:
        self.path = path
        self.current: TargetSet | None = None
        self.loaded_at: datetime | None = None  # when `current` was taken into use (UTC)
        self.errors = 0  # problems reported (each distinct broken state once)
        self.reloads = 0  # valid new contents taken into use after the first load
        self.last_error: TargetsError | None = None  # None while the file on disk is the one in use
        self._on_error = on_error
        self._stamp: Stamp | None = None  # stat of what was read last
        self._reported: str | None = None  # what last_error is about: a content hash or a read failure
        self._loaded: list[TargetSet] = []

    def load_initial(self) -> TargetSet | None:
        """First load, at start-up: raises :class:`TargetsError` so the worker refuses to start.

        Returns ``None`` (and the worker runs without targets) when no file is configured.
        """
        if self.path is None:
            return None
        try:
            stamp, data = self._read()
        except OSError as exc:
            raise self._unreadable(exc) from exc
        targets = parse_targets(data, str(self.path))
        self._stamp = stamp
        self._take(targets)
        return targets

    def check(self) -> bool:
        """True when a changed, valid file replaced ``current``; cheap (one stat) otherwise."""
        return self._apply(self._probe())

    async def check_async(self) -> bool:
        """:meth:`check` with the file read and parsed in a thread, so the loop keeps running."""
        return self._apply(await asyncio.to_thread(self._probe))

    def _probe(self) -> _Probe | None:
        """Stat, read and parse as needed; changes nothing (``None``: unchanged on disk)."""
        if self.path is None:
            return None
        try:
            stamp = _stamp(os.stat(self.path))
            if stamp == self._stamp:
                return None
            stamp, data = self._read()
        except OSError as exc:  # vanished, or permissions changed
            return _Probe(unreadable=exc)
        digest = hashlib.sha256(data).hexdigest()
        if (self.current is not None and digest == self.current.sha256) or digest == self._reported:
            return _Probe(stamp, digest)
        try:
            return _Probe(stamp, digest, parse_targets(data, str(self.path)))
        except TargetsError as exc:
            return _Probe(stamp, digest, exc)

    def _apply(self, probe: _Probe | None) -> bool:
        if probe is None:
            return False
        if probe.unreadable is not None:
            self._stamp = None  # read again as soon as it is back
            error = self._unreadable(probe.unreadable)
            self._report(f"unreadable: {error}", error)
            return False
        self._stamp = probe.stamp
        if self.current is not None and probe.digest == self.current.sha256:
            self._clear()  # touched, or put back as it was: nothing to reload
            return False
        if probe.parsed is None:
            return False  # the same broken content, already reported
        if isinstance(probe.parsed, TargetsError):
            self._report(probe.digest, probe.parsed)
            return False
        self._take(probe.parsed)
        self.reloads += 1
        return True

    def in_force(self, day: date) -> TargetSet | None:
        """The set in force on business ``day``: the latest loaded one whose effective_from <= day.

        The same rule as ``sinks.clickhouse.targets.targets_in_force``, so a file
        saved ahead of time (effective_from in the future) leaves the previous
        targets on the gauges until its day comes. Only sets loaded by this
        process are known: after a restart a future-dated file means no targets
        until its day.
        """
        for targets in reversed(self._loaded):
            if targets.effective_from is None or targets.effective_from <= day:
                return targets
        return None

    def _read(self) -> tuple[Stamp, bytes]:
        """The file's bytes and the stat of the very file they came from (safe across a rename)."""
        assert self.path is not None
        with self.path.open("rb") as handle:
            return _stamp(os.fstat(handle.fileno())), handle.read(MAX_BYTES + 1)

    def _unreadable(self, exc: OSError) -> TargetsError:
        return TargetsError(str(self.path), [Problem(None, None, f"cannot read file: {exc.strerror or exc}")])

    def _take(self, targets: TargetSet) -> None:
        self.current = targets
        self.loaded_at = datetime.now(UTC)
        self._loaded = [*self._loaded[-(HISTORY - 1) :], targets]
        self._clear()

    def _clear(self) -> None:
        self._reported = None
        self.last_error = None

    def _report(self, what: str, error: TargetsError) -> None:
        if what == self._reported:
            return
        self._reported = what
        self.last_error = error
        self.errors += 1
        if self._on_error is not None:
            self._on_error(error)
        else:
            log.warning("targets file refused, previous targets stay in force: %s", error)


def _stamp(st: os.stat_result) -> Stamp:
    """What changes when a file is edited in place or replaced by a rename."""
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)
