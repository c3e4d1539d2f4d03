"""The floor as the wallboard knows it: the current snapshot of every rep, and how fresh it is.

Which worker's snapshot of a rep is current. A rep lives in one partition of the CDR
topic; in one consumer-group generation a partition has exactly one owner, and a
rebalance starts a higher generation whose new owner publishes every rep it holds. So
a snapshot replaces the one held when its (generation, timestamp) is at least as high.
One exception keeps a broker whose generations restarted (a group deleted and
recreated) from freezing the board: a snapshot from a worker whose heartbeat has gone
silent is replaced by any newer one. Reps are kept in a dict by rep id, so a rep is
shown once, whichever worker (or how many) ever published it.

Freshness. Every worker heartbeats once a second with the partitions it reports. A
partition's data is as fresh as the newest heartbeat claiming it (or, while that worker
is behind, as its last processed batch); the floor is as fresh as its stalest
partition. A partition nobody claims ages from the last time anyone did.

Months. A rep's snapshot carries the month to date, so a rep who has not dialed yet this
month still holds last month's final figures in their newest snapshot; when a snapshot of a
later month replaces it, the replaced one is kept (one per rep) as that month's last, so the
awards panel can rank the month just ended on the first day of the next (``month_reps``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from schemas.snapshots import Heartbeat, Message, RepSnapshot


@dataclass(frozen=True)
class Freshness:
    age_seconds: float | None  # None: nothing heard from any worker yet
    stale: bool


class Floor:
    def __init__(self, stale_after_seconds: float, started: float | None = None) -> None:
        self.stale_after = stale_after_seconds
        self.started = time.time() if started is None else started
        self.reps: dict[str, RepSnapshot] = {}
        self.month_before: dict[str, RepSnapshot] = {}  # rep -> its last snapshot of an earlier month
        self.workers: dict[str, Heartbeat] = {}
        self.last_claimed: dict[int, float] = {}
        self.version = 0  # bumped whenever something a page shows changed

    def apply(self, message: Message, now: float) -> bool:
        """Take one message from the topic; True when the floor changed."""
        if isinstance(message, Heartbeat):
            return self._heartbeat(message)
        current = self.reps.get(message.rep_id)
        if current is not None and not self._supersedes(message, current, now):
            return False
        if current is not None and current.day[:7] < message.day[:7]:
            self.month_before[message.rep_id] = current
        self.reps[message.rep_id] = message
        self.version += 1
        return True

    def _heartbeat(self, beat: Heartbeat) -> bool:
        previous = self.workers.get(beat.worker)
        if previous is not None and previous.ts > beat.ts:
            return False
        self.workers[beat.worker] = beat
        for partition in beat.partitions:
            self.last_claimed[partition] = max(self.last_claimed.get(partition, 0.0), beat.ts)
        shown = (beat.partitions, beat.campaigns, beat.campaigns_24h)
        if previous is None or (previous.partitions, previous.campaigns, previous.campaigns_24h) != shown:
            self.version += 1
            return True
        return False

    def _supersedes(self, new: RepSnapshot, old: RepSnapshot, now: float) -> bool:
        if (new.generation, new.ts) >= (old.generation, old.ts):
            return True
        return new.ts > old.ts and not self.alive(old.worker, now)

    def alive(self, worker: str, now: float) -> bool:
        beat = self.workers.get(worker)
        return beat is not None and now - beat.ts <= self.stale_after

    def reps_of_day(self, day: str) -> list[RepSnapshot]:
        return [rep for rep in self.reps.values() if rep.day == day]

    def month_reps(self, month: str) -> list[RepSnapshot]:
        """Each rep's newest snapshot of ``month`` (``YYYY-MM``): its figures month to date, or
        that month's last figures when a later month has begun for the rep."""
        out = []
        for rep, snapshot in self.reps.items():
            if snapshot.day.startswith(month):
                out.append(snapshot)
            elif (earlier := self.month_before.get(rep)) is not None and earlier.day.startswith(month):
                out.append(earlier)
        return out

    def campaigns(self, regime: str = "30d") -> dict[str, tuple[int, int]]:
        """(abandoned, connects) per campaign over ``regime``'s window (30d or 24h), from the
        newest heartbeat (all workers agree)."""
        if not self.workers:
            return {}
        newest = max(self.workers.values(), key=lambda b: b.ts)
        return dict(newest.campaigns_24h if regime == "24h" else newest.campaigns)

    def freshness(self, now: float) -> Freshness:
        if not self.workers:
            return Freshness(None, True)
        count = max(self.workers.values(), key=lambda b: b.ts).partition_count
        as_of: dict[int, float] = {}
        for beat in self.workers.values():
            fresh = beat.ts if beat.lag == 0 else min(beat.ts, beat.last_processed)
            for partition in beat.partitions:
                as_of[partition] = max(as_of.get(partition, 0.0), fresh)
        oldest = min(as_of.get(p, self.last_claimed.get(p, self.started)) for p in range(count))
        age = max(0.0, now - oldest)
        return Freshness(age, age > self.stale_after)
