"""``--follow``: tail a file that a dialer keeps appending to, across rotations.

The file is polled (no inotify dependency): new complete lines are yielded as they come; a
line still being written waits for its newline. When the path names another file (logrotate
moved it away and a new ``Master.csv`` appeared) the old file is read to its end first,
then the new one from its start; a file that shrank (``copytruncate``) is read again from
the start (a file emptied and refilled past the old position within one poll looks like growth:
keep rotations to ``create`` mode, logrotate's default). Re-read lines are harmless: the
pipeline counts a call id's version once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ingest.sources import BOM


def follow_lines(
    path: Path,
    stop: threading.Event,
    on_idle: Callable[[], None] = lambda: None,
    *,
    poll_seconds: float = 0.2,
    idle_seconds: float = 1.0,
) -> Iterator[tuple[int, bytes]]:
    """Numbered lines of ``path`` (numbering restarts with each new file) until ``stop`` is set.

    ``on_idle`` is called once whenever nothing new arrived for ``idle_seconds``.
    """
    handle = None
    inode = None
    number = 0
    partial = b""
    quiet = 0.0
    try:
        while not stop.is_set():
            if handle is None:
                try:
                    handle = open(path, "rb")  # noqa: SIM115 - kept open across iterations
                except FileNotFoundError:
                    stop.wait(poll_seconds)
                    continue
                inode, number, partial = os.fstat(handle.fileno()).st_ino, 0, b""
            chunk = handle.readline()
            if chunk:
                partial += chunk
                if partial.endswith(b"\n"):
                    number += 1
                    yield number, partial
                    partial, quiet = b"", 0.0
                continue
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            if current is None or current.st_ino != inode:
                if partial.strip(BOM + b"\r\n"):
                    number += 1
                    yield number, partial + b"\n"
                handle.close()
                handle = None
                continue
            if current.st_size < handle.tell():
                handle.seek(0)
                number, partial = 0, b""
                continue
            if quiet < idle_seconds <= quiet + poll_seconds:
                on_idle()
            quiet += poll_seconds
            stop.wait(poll_seconds)
    finally:
        if handle is not None:
            handle.close()
