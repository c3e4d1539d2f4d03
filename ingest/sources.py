"""Reading dialer files: paths, folders and stdin as numbered lines, whatever the encoding quirks.

Lines are read as bytes and numbered, so a reject names its file and line and carries its
original bytes to the DLQ. A UTF-8 byte-order mark is dropped; Windows line ends are the
CSV reader's business; a line that is not UTF-8 (an old Asterisk writing Latin-1 caller
names) is read as Latin-1 rather than refused.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BOM = b"\xef\xbb\xbf"
STDIN = "-"


@dataclass(slots=True)
class SourceRecord:
    """One record of a dialer file: where it was, its bytes, its named fields or why it has none."""

    origin: str
    line: int
    raw: bytes
    fields: dict[str, str] = field(default_factory=dict)
    problem: str | None = None


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class LineFeed:
    """Numbered byte lines in, text lines out; remembers the lines of the record being read.

    ``csv.reader`` pulls as many lines as a record spans (a quoted field may hold a newline),
    then :meth:`take` says where that record began and gives back its exact bytes.
    """

    def __init__(self, lines: Iterable[tuple[int, bytes]]) -> None:
        self._lines = iter(lines)
        self._pending: list[bytes] = []
        self._first = 0
        self.bytes_read = 0

    def __iter__(self) -> LineFeed:
        return self

    def __next__(self) -> str:
        number, raw = next(self._lines)
        self.bytes_read += len(raw)
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        if not self._pending:
            self._first = number
        self._pending.append(raw)
        return decode(raw)

    def take(self) -> tuple[int, bytes]:
        """(first line number, bytes) of the lines read since the last call."""
        raw = b"".join(self._pending).rstrip(b"\r\n")
        self._pending.clear()
        return self._first, raw


def input_files(target: str) -> list[Path]:
    """A file, or a folder's files (oldest first, so rotated ``Master.csv.1`` precedes ``Master.csv``)."""
    path = Path(target)
    if path.is_dir():
        files = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
        return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))
    if not path.is_file():
        raise FileNotFoundError(f"{target}: no such file or folder")
    return [path]


def numbered_lines(handle: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    return enumerate(handle, 1)


def stdin_lines() -> Iterator[tuple[int, bytes]]:
    return numbered_lines(sys.stdin.buffer)
