"""Where a database feed has got to, kept in a JSON file so a restarted import carries on.

It holds the high-water mark of the table's time column, and for the rows and calls of the
recent window: a digest of each row as last handled (so an unchanged row is not sent or
dead-lettered again), and a digest and revision of each call's CDR as last sent (so a call
whose CDR changed, ``INCALL`` -> ``SALE``, is sent again with a higher ``version``).

Losing the file is harmless for counting: the feed then re-reads the last window and sends
its calls with revision 1, whose version is lower than anything sent before for those calls,
so the worker keeps what it has. The file is replaced atomically (write, fsync, rename): a
crash leaves the old cursor or the new one, never half of one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

STAMP = "%Y-%m-%d %H:%M:%S"


class CursorError(ValueError):
    """A cursor file that cannot be read; the message says which and what to do."""


@dataclass
class FeedCursor:
    path: Path
    high_water: datetime | None = None
    rows: dict[str, list[str]] = field(default_factory=dict)  # row key -> [row digest, stamp]
    calls: dict[str, list[Any]] = field(default_factory=dict)  # call id -> [CDR digest, revision, stamp]

    @classmethod
    def load(cls, path: Path) -> FeedCursor:
        if not path.exists():
            return cls(path)
        try:
            state = orjson.loads(path.read_bytes())
            high_water = state["high_water"]
            return cls(path, datetime.strptime(high_water, STAMP) if high_water else None,
                       dict(state["rows"]), dict(state["calls"]))  # fmt: skip
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise CursorError(f"cursor {path}: unreadable ({exc}); move it away to re-read the "
                              "last window (nothing counts twice)") from None  # fmt: skip

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state = {"high_water": self.high_water.strftime(STAMP) if self.high_water else None,
                 "rows": self.rows, "calls": self.calls}  # fmt: skip
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "wb") as handle:
            handle.write(orjson.dumps(state))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def forget_before(self, stamp: str) -> None:
        """Drop rows and calls last seen before ``stamp``: the window will not read them again."""
        self.rows = {key: entry for key, entry in self.rows.items() if entry[-1] >= stamp}
        self.calls = {key: entry for key, entry in self.calls.items() if entry[-1] >= stamp}
