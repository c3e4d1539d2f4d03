"""The legs ``--listen`` has seen lately, kept in a file so a restart does not split a call.

FreeSWITCH posts a call's A and B legs separately, seconds apart; the listener joins them
(``ingest.live.RecentCalls``) and sends the call again, fuller, with each leg. Kept only in
memory, a restart between the two legs would send the second alone: as a call of its own
legs, missing the first leg's rep, team or campaign and its start. So each leg, as mapped
(without its bytes), is appended to this journal as it is remembered, and a starting
listener reads the journal back before it answers anything.

A line per leg, JSON, written and flushed to the operating system before the POST is
answered: it survives the process (a crash, a SIGKILL, a restart), not the machine losing
power before the kernel wrote it (an fsync per POST would cost more than the POST itself).
A line cut short by a crash is skipped. The file is bounded: after ``rotate_after`` lines
it becomes ``<name>.1`` (the previous ``.1`` is dropped) and a new one starts, so the
journal holds the last ``rotate_after`` to ``2 x rotate_after`` legs, read back oldest first.
"""

from __future__ import annotations

import os
from dataclasses import fields as dataclass_fields
from datetime import datetime
from io import BufferedWriter
from pathlib import Path

import orjson

from ingest.legs import Leg

MOMENTS = ("started", "answered", "ended")
KEPT = tuple(field.name for field in dataclass_fields(Leg) if field.name != "raw")  # raw: not needed
Key = bytes | str  # a leg's identity in RecentCalls: the digest of its bytes, or a row's key


class LegJournalError(ValueError):
    """A journal that cannot be written; the message names the file and what to do."""


def _line(key: Key, leg: Leg) -> bytes:
    fields = {name: getattr(leg, name) for name in KEPT}
    named = {"digest": key.hex()} if isinstance(key, bytes) else {"key": key}
    return orjson.dumps({**named, **fields}) + b"\n"


def _entry(line: bytes) -> tuple[Key, Leg]:
    fields = orjson.loads(line)
    key: Key = bytes.fromhex(fields.pop("digest")) if "digest" in fields else fields.pop("key")
    for name in MOMENTS:
        if fields[name] is not None:
            fields[name] = datetime.fromisoformat(fields[name])
    return key, Leg(raw=b"", **fields)


class LegJournal:
    def __init__(self, path: Path, rotate_after: int = 50_000) -> None:
        self.path, self.rotate_after = path, rotate_after
        self.previous = path.with_name(path.name + ".1")
        self.lines = 0
        self._handle: BufferedWriter | None = None

    def load(self) -> list[tuple[Key, Leg]]:
        """Every readable leg of the journal, oldest first."""
        entries: list[tuple[Key, Leg]] = []
        for source in (self.previous, self.path):
            try:
                lines = source.read_bytes().splitlines()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise LegJournalError(f"legs journal {source}: cannot read ({exc.strerror})") from None
            for line in lines:
                try:
                    entries.append(_entry(line))
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # a line cut short by a crash, or not ours: that leg is forgotten
            if source == self.path:
                self.lines = len(lines)
        return entries

    def append(self, key: Key, leg: Leg) -> None:
        if self._handle is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = open(self.path, "ab")  # noqa: SIM115 - kept open between appends
            except OSError as exc:
                raise LegJournalError(f"legs journal {self.path}: cannot write ({exc.strerror}); "
                                      "choose another with --cursor PATH") from None  # fmt: skip
        self._handle.write(_line(key, leg))
        self._handle.flush()
        self.lines += 1
        if self.lines >= self.rotate_after:
            self.close()
            os.replace(self.path, self.previous)
            self.lines = 0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
