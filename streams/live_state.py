"""Live per-rep, per-business-day counters for the partitions this worker owns.

ClickHouse is the durable, exact copy of every call; this state is the fast
copy the wallboard and /metrics read. It is rebuilt from ClickHouse whenever a
partition is (re)assigned, so after a crash, restart or rebalance it agrees
with what payroll reads: events replayed from the last committed offset are
already in ClickHouse, show up here as seen, and are not counted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum

from schemas.metrics import COUNTER_NAMES, Contribution

ZERO = Contribution()


class Verdict(Enum):
    NEW = "new"  # first copy of this call: counted and written
    CORRECTION = "correction"  # a higher version: old counts replaced, row written
    STALE = "stale"  # duplicate or an older/equal version: neither counted nor written
    OUTSIDE_WINDOW = "outside_window"  # older than the live window: written, not counted live
    UNTRACKED = "untracked"  # partition left this worker mid-batch: written, counted by its new owner


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the live state needs to remember about a call to undo it later."""

    call_id: str
    rank: int
    rep_id: str
    team_id: str
    day: date
    contribution: Contribution


@dataclass
class PartitionState:
    seen: dict[str, CallFacts] = field(default_factory=dict)
    # (rep, day) -> running sums in Contribution's field order, updated in place (hot path)
    sums: dict[tuple[str, date], list[int]] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)

    def add(self, facts: CallFacts, sign: int) -> None:
        key = (facts.rep_id, facts.day)
        sums = self.sums.get(key)
        if sums is None:
            sums = self.sums[key] = [0] * len(COUNTER_NAMES)
        for i, value in enumerate(facts.contribution.as_tuple()):
            if value:
                sums[i] += sign * value
        self.teams[facts.rep_id] = facts.team_id

    @property
    def counters(self) -> dict[tuple[str, date], Contribution]:
        return {key: Contribution(*sums) for key, sums in self.sums.items()}


class LiveState:
    """Dedup by call, counters by (rep, day), kept for ``window_days`` business days."""

    def __init__(self, today: Callable[[], date], window_days: int = 2) -> None:
        if window_days < 1:
            raise ValueError("window_days must be >= 1")
        self._today = today
        self.window_days = window_days
        self.partitions: dict[int, PartitionState] = {}
        self._first_day = self._window_start()

    def _window_start(self) -> date:
        return self._today() - timedelta(days=self.window_days - 1)

    @property
    def first_day(self) -> date:
        return self._first_day

    def owns(self, partition: int) -> bool:
        return partition in self.partitions

    def seed(self, partition: int, calls: Iterable[CallFacts]) -> None:
        """Replace a partition's state with what ClickHouse holds for it."""
        state = PartitionState()
        for facts in calls:
            if facts.day >= self._first_day:
                state.seen[facts.call_id] = facts
                state.add(facts, +1)
        self.partitions[partition] = state

    def drop(self, partition: int) -> None:
        self.partitions.pop(partition, None)

    def roll(self) -> None:
        """Forget days that left the window (call once per batch; cheap when nothing changed)."""
        first = self._window_start()
        if first == self._first_day:
            return
        self._first_day = first
        for state in self.partitions.values():
            state.seen = {k: f for k, f in state.seen.items() if f.day >= first}
            state.sums = {k: c for k, c in state.sums.items() if k[1] >= first}

    def apply(self, partition: int, facts: CallFacts) -> Verdict:
        state = self.partitions.get(partition)
        if state is None:
            return Verdict.UNTRACKED
        previous = state.seen.get(facts.call_id)
        if previous is not None and previous.rank >= facts.rank:
            return Verdict.STALE
        if facts.day < self._first_day:
            return Verdict.OUTSIDE_WINDOW
        state.seen[facts.call_id] = facts
        state.add(facts, +1)
        if previous is None:
            return Verdict.NEW
        state.add(previous, -1)
        return Verdict.CORRECTION

    def day_counters(
        self, day: date, partitions: Iterable[int] | None = None
    ) -> Iterator[tuple[str, str, Contribution]]:
        """(rep_id, team_id, counters) for one business day, over ``partitions`` (default: all)."""
        chosen = self.partitions.keys() if partitions is None else partitions
        for state in (self.partitions[p] for p in chosen if p in self.partitions):
            for (rep_id, counter_day), sums in state.sums.items():
                if counter_day == day:
                    yield rep_id, state.teams.get(rep_id, ""), Contribution(*sums)
