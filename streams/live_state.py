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
from operator import add, sub
from typing import NamedTuple

from schemas.kpis import COUNTER_NAMES, Contribution, Counters

ZERO = Contribution()
NO_COUNTS: Counters = ZERO.as_tuple()


class Verdict(Enum):
    NEW = "new"  # first copy of this call: counted and written
    CORRECTION = "correction"  # a higher version: old counts replaced, row written
    STALE = "stale"  # duplicate or an older/equal version: neither counted nor written
    OUTSIDE_WINDOW = "outside_window"  # older than the live window: written, not counted live
    UNTRACKED = "untracked"  # partition left this worker mid-batch: written, counted by its new owner


class CallFacts(NamedTuple):
    """One call as the live state needs it: who and which day it counts for, and for how much."""

    call_id: str
    rank: int
    rep_id: str
    team_id: str
    day: date
    counters: Counters


# What a seen call remembers, packed to keep a day of calls per partition small:
# (rank, the shared (rep, day) key of its sums, its shared counters tuple).
Seen = tuple[int, tuple[str, date], Counters]


@dataclass
class PartitionState:
    seen: dict[str, Seen] = field(default_factory=dict)
    # (rep, day) -> running sums in COUNTER_NAMES order, updated in place (hot path)
    sums: dict[tuple[str, date], list[int]] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)
    # Interned keys and counter tuples: millions of calls share a few thousand of each.
    _keys: dict[tuple[str, date], tuple[str, date]] = field(default_factory=dict)
    _counters: dict[Counters, Counters] = field(default_factory=dict)

    def remember(self, facts: CallFacts) -> Seen:
        key = (facts.rep_id, facts.day)
        key = self._keys.setdefault(key, key)
        if key not in self.sums:
            self.sums[key] = [0] * len(COUNTER_NAMES)
        self.teams[facts.rep_id] = facts.team_id
        counters = self._counters.setdefault(facts.counters, facts.counters)
        seen = self.seen[facts.call_id] = (facts.rank, key, counters)
        return seen

    def remember_superseded(self, call_id: str, rank: int, day: date) -> None:
        """A call whose winning version counts elsewhere (another partition, or a day
        outside the window): known, so older copies stay stale, but no rep's figures here."""
        self.seen[call_id] = (rank, ("", day), NO_COUNTS)

    def count(self, seen: Seen, sign: int) -> None:
        sums = self.sums.get(seen[1])
        if sums is not None:  # a superseded call has no sums to take from
            sums[:] = map(add if sign > 0 else sub, sums, seen[2])

    def forget_before(self, first: date) -> None:
        self.seen = {call_id: s for call_id, s in self.seen.items() if s[1][1] >= first}
        self.sums = {key: sums for key, sums in self.sums.items() if key[1] >= first}
        self._keys = {key: key for key in self.sums}
        self._counters = {counters: counters for _, _, counters in self.seen.values()}


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

    def seed(self, partition: int, calls: Iterable[CallFacts], superseded: Iterable[CallFacts] = ()) -> None:
        """Replace a partition's state with what ClickHouse holds for it: ``calls`` count
        here; ``superseded`` are calls whose winning version counts on another partition."""
        state = PartitionState()
        for facts in superseded:
            state.remember_superseded(facts.call_id, facts.rank, facts.day)
        for facts in calls:
            if facts.day >= self._first_day:
                state.count(state.remember(facts), +1)
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
            state.forget_before(first)

    def apply(self, partition: int, facts: CallFacts) -> Verdict:
        state = self.partitions.get(partition)
        if state is None:
            return Verdict.UNTRACKED
        previous = state.seen.get(facts.call_id)
        if previous is not None and previous[0] >= facts.rank:
            return Verdict.STALE
        if facts.day < self._first_day:
            if previous is not None:  # its old version counted in the window: take that back
                state.count(previous, -1)
                state.remember_superseded(facts.call_id, facts.rank, facts.day)
            return Verdict.OUTSIDE_WINDOW
        state.count(state.remember(facts), +1)
        if previous is None:
            return Verdict.NEW
        state.count(previous, -1)
        return Verdict.CORRECTION

    def seen_calls(self, partition: int) -> Iterator[CallFacts]:
        """The calls that count on the partition, as it was built from them."""
        state = self.partitions[partition]
        for call_id, (rank, (rep_id, day), counters) in state.seen.items():
            if rep_id:  # not a superseded call
                yield CallFacts(call_id, rank, rep_id, state.teams.get(rep_id, ""), day, counters)

    def day_counters(
        self, day: date, partitions: Iterable[int] | None = None
    ) -> Iterator[tuple[str, str, Contribution]]:
        """(rep_id, team_id, counters) for one business day, over ``partitions`` (default: all)."""
        chosen = self.partitions.keys() if partitions is None else partitions
        for state in (self.partitions[p] for p in chosen if p in self.partitions):
            for (rep_id, counter_day), sums in state.sums.items():
                if counter_day == day:
                    yield rep_id, state.teams.get(rep_id, ""), Contribution(*sums)
