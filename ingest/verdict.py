"""Whether an import is good, told at once: a stop before anything is sent, or an exit code.

Two moments decide:

- **Probation.** What the first :data:`PROBATION` outcomes (calls mapped, records rejected)
  would send is held back. If most of them are ``unreadable_record`` (a ``cdr_custom`` file
  without ``columns:``, the wrong ``--format``) or the clock check finds another time zone,
  the import stops with exit 2 and says what to do, and nothing has reached Kafka or its DLQ:
  fix the command and run it again. Otherwise what was held is sent and the import goes on.
- **The end.** More records rejected than ``--max-rejects`` allows (a count, or a percentage
  of the records read) makes the exit code 3, so a script or a cron job sees a bad import.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

PROBATION = 100  # outcomes held back before the import is judged readable
EXIT_OK, EXIT_KAFKA, EXIT_STOPPED, EXIT_TOO_MANY_REJECTS = 0, 1, 2, 3


class ImportStopped(ValueError):
    """The import cannot be right as asked (unknown layout, wrong time zone); nothing was sent."""


@dataclass(frozen=True)
class RejectLimit:
    """``--max-rejects``: ``N`` records, or ``P%`` of the records read."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> RejectLimit:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(%?)\s*", text)
        if match is None or (not match[2] and "." in match[1]):
            raise ValueError(f"--max-rejects: {text!r} is not a count (10) or a percentage (2%)")
        if match[2]:
            percent = float(match[1])
            if percent > 100:
                raise ValueError(f"--max-rejects: {text!r} is over 100%")
            return cls(percent=percent)
        return cls(count=int(match[1]))

    def allowed(self, records: int) -> int:
        """How many rejects of ``records`` read are still a good import."""
        if self.count is not None:
            return self.count
        return int(records * (self.percent or 0.0) / 100)

    def __str__(self) -> str:
        return str(self.count) if self.count is not None else f"{self.percent:g}%"


DEFAULT_LIMIT = RejectLimit(percent=50)


class Holding:
    """What the import would send during probation, in order, until :meth:`release`."""

    def __init__(self, size: int = PROBATION) -> None:
        self.size = size
        self.actions: list[Callable[[], object]] = []
        self.outcomes = self.unreadable = 0
        self.first_problem: str | None = None

    def hold(self, action: Callable[[], object], *, unreadable: str | None = None) -> bool:
        """Keep ``action``; True once probation is over (time to judge)."""
        self.actions.append(action)
        self.outcomes += 1
        if unreadable is not None:
            self.unreadable += 1
            self.first_problem = self.first_problem or unreadable
        return self.outcomes >= self.size

    def mostly_unreadable(self) -> bool:
        return self.unreadable * 2 > self.outcomes

    def release(self) -> None:
        for action in self.actions:
            action()
        self.actions.clear()
