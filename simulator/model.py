"""The simulated floor: reps, the traffic they make, and how one call attempt is drawn.

``simulator`` turns this into Kafka events and the exact truth; this module only
knows what realistic outbound telesales traffic looks like (dispositions, AMD, long-tailed
talk times, rare sales) and how a spec becomes a deterministic stream of records.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from schemas.cdr import DEFAULT_RULES
from simulator.faults import make_bad

KINDS = ("call", "duplicate", "correction", "bad", "late")
SHIFT = (clock(9), clock(18))  # local shift hours; dialed_at always falls inside them
DEFAULT_END_AFTER = clock(9, 15)  # before this, "today" has too little shift to simulate
HORIZON = DEFAULT_RULES.late_horizon_days  # days the simulator may reach back
ANSWERED = frozenset({"answered", "voicemail", "abandoned"})  # calls that have answered_at
UNANSWERED = ("no_answer", "busy", "failed", "congestion")
RING_MS = {"answered": (4000, 25000), "voicemail": (8000, 30000), "abandoned": (4000, 20000),
           "no_answer": (20000, 45000), "busy": (500, 6000), "failed": (0, 3000),
           "congestion": (0, 2000)}  # fmt: skip
OUTCOMES = ("callback", "not_interested", "dnc", "wrong_number", None)  # when not a sale
OUTCOME_WEIGHTS = (0.17, 0.55, 0.05, 0.06, 0.17)
TALK = {"sale": (420, 0.5), "callback": (75, 0.7), "not_interested": (22, 0.9),
        "dnc": (12, 0.6), "wrong_number": (8, 0.5), None: (35, 1.0)}  # (median s, sigma)
PRICES = ((29900, 59900, 99900), (129900, 199900, 69900), (299900, 499900, 129900))  # cents


@dataclass(frozen=True)
class SimulationSpec:
    """One simulation run; fields map 1:1 to ``callfloor simulate`` options."""

    reps: int = 50
    calls: int = 20_000
    days: int = 1
    rate: float = 0.0  # events/s, 0 = as fast as possible
    seed: int = 1
    duplicates: float = 0.0
    corrections: float = 0.0
    bad: float = 0.0
    late: float = 0.0
    teams: int | None = None  # default ceil(reps / 10)
    campaigns: int = 3
    live: bool = False  # timestamps are "now" when produced; calls=0 runs until stopped
    timezone: str = "Asia/Shanghai"
    valid_call_seconds: int = 30
    end_day: date | None = None  # default today in timezone (yesterday before 09:15)
    stop_team: str | None = None  # live only: this team stops dialing (faults.team_stops) ...
    stop_team_after_s: float = 0.0  # ... this many seconds into the run

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # raises for an unknown zone
        checks = {
            "reps >= 1": self.reps >= 1, "days >= 1": self.days >= 1, "rate >= 0": self.rate >= 0,
            # older calls would be too_old for the worker (CALLFLOOR_LATE_HORIZON_DAYS)
            f"days <= {HORIZON} (the default late horizon)": self.days <= HORIZON,
            "calls >= 1 (0 only with live)": self.calls > 0 or (self.live and self.calls == 0),
            "campaigns >= 1": self.campaigns >= 1,
            "1 <= teams <= reps": self.teams is None or 1 <= self.teams <= self.reps,
            "valid_call_seconds >= 0": self.valid_call_seconds >= 0,
            "stop_team only with live": self.stop_team is None or self.live,
            **{f"0 <= {f} <= 1": 0 <= getattr(self, f) <= 1
               for f in ("duplicates", "corrections", "bad", "late")},
        }  # fmt: skip
        failed = [rule for rule, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"invalid simulation spec: {', '.join(failed)}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def resolved(self, now: datetime) -> SimulationSpec:
        """Defaults filled in, so the spec in a truth file reproduces the same bytes."""
        local = now.astimezone(self.zone)
        end_day = self.end_day or local.date() - timedelta(days=local.time() < DEFAULT_END_AFTER)
        lo, hi = day_window(end_day, self.zone, now)
        if not self.live and hi - lo < 60_000:
            raise ValueError(f"end_day {end_day} has no shift time before now ({local:%F %R})")
        return replace(self, teams=self.teams or math.ceil(self.reps / 10), end_day=end_day)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "end_day": self.end_day and self.end_day.isoformat()}


def roster(spec: SimulationSpec) -> list[tuple[str, str]]:
    """(rep_id, team_id) of every simulated rep, in order; teams are equal-sized blocks."""
    teams = spec.teams or -(-spec.reps // 10)
    width = max(3, len(str(spec.reps)))
    return [(f"rep-{i + 1:0{width}d}", f"team-{i * teams // spec.reps + 1:02d}") for i in range(spec.reps)]


def day_window(day: date, zone: ZoneInfo, now: datetime) -> tuple[int, int]:
    """Shift hours of a local day in epoch ms, ending 10 min before now at the latest."""
    lo, hi = (int(datetime.combine(day, t, zone).timestamp() * 1000) for t in SHIFT)
    return lo, min(hi, int(now.timestamp() * 1000) - 600_000)


def daytime_zone(now: datetime | None = None) -> str:
    """A fixed-offset IANA zone where it is about 14:00 now.

    Before 09:15 local the simulator sends yesterday's shift, and live calls dialed before
    midnight count for yesterday; runs that compare today's live numbers (tests, the
    latency benchmark) use this zone so that today has a shift behind it at any hour.
    """
    hours_east = (14 - (now or datetime.now(UTC)).hour) % 24
    if hours_east > 12:
        hours_east -= 24
    return "UTC" if hours_east == 0 else f"Etc/GMT{-hours_east:+d}"  # Etc/GMT-8 is UTC+8


def money_text(cents: int | None) -> str | None:
    return None if cents is None else f"{cents // 100}.{cents % 100:02d}"


@dataclass(frozen=True, slots=True)
class _Rep:
    rep_id: str
    team_id: str
    campaign: int  # the campaign this rep mostly dials
    connect_rate: float
    sale_rate: float


@dataclass(slots=True)
class SimCall:
    """A call in integer epoch milliseconds; rendered to CDR JSON only when sent."""

    call_id: str
    kind: str
    rep: int
    campaign: int
    direction: str
    dialed: int
    disposition: str = "no_answer"
    amd: str | None = None
    ring: int = 0  # ms from dialed to answered, or to ended when nobody answered
    frac: int = 0  # ms of the last, unbilled talk second
    talk: int = 0
    wrap: int = 0
    outcome: str | None = None
    sale: int | None = None  # cents; also the sold price
    list_price: int | None = None
    new_customer: bool = False
    version: int = 1

    @property
    def answered(self) -> int | None:
        return self.dialed + self.ring if self.disposition in ANSWERED else None

    @property
    def ended(self) -> int:
        start = self.answered
        return self.dialed + self.ring if start is None else start + self.talk * 1000 + self.frac

    @property
    def connect(self) -> bool:
        return self.disposition == "answered" and self.amd != "machine"


class Dialer:
    """Draws calls from seeded per-rep profiles and renders them as CDR v1."""

    def __init__(self, spec: SimulationSpec, now: datetime, tag: str) -> None:
        assert spec.teams is not None and spec.end_day is not None
        self.spec, self.now, self.tag, self.zone = spec, now, tag, spec.zone
        # faults draw from their own stream: adding duplicates or bad events to a run
        # leaves its calls (and so its totals) exactly as they were
        self.rng = rng = Random(spec.seed)
        self.fault_rng = Random(f"{spec.seed}/faults")
        # nothing ends after this; live calls are stamped at send time and need no limit
        self.limit = 2**62 if spec.live else int(now.timestamp() * 1000) - 1000
        self.ids, self.bad_ids = itertools.count(1), itertools.count(1)
        self.reps = [
            _Rep(rep_id, team_id, rng.randrange(spec.campaigns), rng.uniform(0.05, 0.13),
                 rng.uniform(0.03, 0.08))
            for rep_id, team_id in roster(spec)
        ]  # fmt: skip
        activity = (rng.lognormvariate(0, 0.35) for _ in self.reps)  # some reps dial more
        self.cum_weights = list(itertools.accumulate(activity))
        self.keys = [rep.rep_id.encode() for rep in self.reps]
        self._bad_key = self.keys[0]
        self.campaign_ids = [f"camp-{c + 1:02d}" for c in range(spec.campaigns)]
        self.abandon = [0.005 if c == 0 else 0.0025 for c in range(spec.campaigns)]  # camp-01 hot
        self.days = [spec.end_day - timedelta(days=k) for k in reversed(range(spec.days))]
        self.late_n = round(spec.calls * spec.late)
        start = datetime.combine(spec.end_day, SHIFT[0], self.zone) + timedelta(days=366)
        self.future = int(max(start, now + timedelta(days=1)).timestamp() * 1000)

    def day_records(self) -> Iterator[SimCall]:
        """Regular traffic day by day, each day in hang-up order (when a dialer emits a CDR)."""
        regular, days = self.spec.calls - self.late_n, len(self.days)
        for i, day in enumerate(self.days):
            yield from self._day(day, regular // days + (i < regular % days), "call")

    def late_records(self) -> Iterator[SimCall]:
        """Calls from earlier days (the day before end_day if days=1), sent after all others."""
        earlier = self.days[:-1] or [self.days[0] - timedelta(days=1)]
        counts = Counter(self.rng.choice(earlier) for _ in range(self.late_n))
        for day in earlier:
            yield from self._day(day, counts[day], "late")

    def live_records(self) -> Iterator[SimCall]:
        """Calls ending "now" as they are pulled; late ones are from yesterday's shift."""
        for _ in itertools.count() if not self.spec.calls else range(self.spec.calls):
            if self.rng.random() < self.spec.late:
                yesterday = datetime.now(self.zone).date() - timedelta(days=1)
                lo, hi = day_window(yesterday, self.zone, datetime.now(UTC))
                yield self.call(self._rep(), self.rng.randint(lo, hi), "late")
            else:
                yield self._ending_now(self.call(self._rep(), 0, "call"))

    def _day(self, day: date, n: int, kind: str) -> list[SimCall]:
        lo, hi = day_window(day, self.zone, self.now)
        lunch = (lo + 3 * 3600_000, lo + 4 * 3600_000 + 1800_000)
        calls = []
        for rep in self.rng.choices(range(len(self.reps)), cum_weights=self.cum_weights, k=n):
            at = self.rng.randint(lo, hi)
            if lunch[0] <= at < lunch[1] and self.rng.random() < 0.6:  # the floor eats lunch
                at = self.rng.randint(lo, hi)
            calls.append(self.call(rep, at, kind))
        calls.sort(key=lambda rec: rec.ended)
        return calls

    def _rep(self) -> int:
        return self.rng.choices(range(len(self.reps)), cum_weights=self.cum_weights)[0]

    def _ending_now(self, rec: SimCall) -> SimCall:
        rec.dialed -= rec.ended - (time.time_ns() // 1_000_000 - self.rng.randint(0, 1500))
        return rec

    def call(self, r: int, dialed: int, kind: str, shape: str = "any", cid: str = "") -> SimCall:
        """One call attempt; ``shape`` (connect/sale/unanswered) is for fault bases."""
        rng, rep = self.rng, self.reps[r]
        campaign = rep.campaign if rng.random() < 0.85 else rng.randrange(len(self.campaign_ids))
        inbound = shape == "any" and rng.random() < 0.02
        rec = SimCall(cid or f"{self.tag}-{next(self.ids)}", kind, r, campaign,
                     "inbound" if inbound else "outbound", dialed)  # fmt: skip
        rec.disposition, rec.amd = self._dispose(rep, campaign, inbound, shape)
        rec.ring = rng.randint(*RING_MS[rec.disposition])
        if rec.disposition in ANSWERED:
            rec.frac = rng.randint(0, 900)
        if rec.connect:
            self._converse(rec, "sale" if shape == "sale" else None, shape == "connect")
        elif rec.disposition in ANSWERED:  # a machine or an abandoned call: no talk time
            rec.talk = rng.randint(0, 3) if rec.disposition == "abandoned" else rng.randint(3, 40)
        return self._clamp(rec)

    def _dispose(self, rep: _Rep, campaign: int, inbound: bool, shape: str) -> tuple[str, Any]:
        """Disposition mix: mostly no answer, 5-13 % connects, a few abandoned."""
        if shape in ("connect", "sale"):
            return "answered", "human"
        u = self.rng.random()
        if shape == "unanswered" or (inbound and u >= 0.85):
            return "no_answer", None
        if inbound:
            return "answered", None
        mix = (("answered", None, rep.connect_rate),
               ("abandoned", "human", self.abandon[campaign]),
               ("voicemail", "machine", 0.08), ("answered", "machine", 0.005),
               ("busy", None, 0.07), ("failed", None, 0.03),
               ("congestion", None, 0.01))  # fmt: skip
        for disposition, amd, p in mix:
            if u < p:
                if disposition == "answered" and amd is None:
                    amd = self.rng.choices(("human", "notsure", None), (0.7, 0.15, 0.15))[0]
                return disposition, amd
            u -= p
        return "no_answer", None

    def _converse(self, rec: SimCall, outcome: str | None = None, no_sale: bool = False) -> None:
        """Outcome, long-tailed (lognormal) talk time and wrap of a connect."""
        rng = self.rng
        if outcome is None and not no_sale and rng.random() < self.reps[rec.rep].sale_rate:
            outcome = "sale"
        elif outcome is None:
            outcome = rng.choices(OUTCOMES, OUTCOME_WEIGHTS)[0]
        median, sigma = TALK[outcome]
        rec.outcome = outcome
        rec.talk = min(7200, max(1, int(rng.lognormvariate(math.log(median), sigma))))
        rec.wrap = int(rng.triangular(0, 120, 10))
        rec.sale, rec.list_price, rec.new_customer = None, None, False
        if outcome == "sale":
            self._sell(rec)

    def _sell(self, rec: SimCall) -> None:
        listed = self.rng.choice(PRICES[rec.campaign % len(PRICES)])
        u = self.rng.random()
        if u < 0.6:
            sold = listed
        elif u < 0.97:  # discounted, to whole yuan
            sold = listed * self.rng.randint(80, 95) // 10_000 * 100
        else:  # upsold above list
            sold = listed + 5000
        rec.outcome, rec.sale, rec.list_price = "sale", sold, listed
        rec.new_customer = self.rng.random() < 0.4

    def _clamp(self, rec: SimCall) -> SimCall:
        """A call on today's shift cannot have ended after now: cut its talk time."""
        answered = rec.answered
        if answered is not None and rec.dialed < self.limit < rec.ended:
            rec.talk = max(0, (self.limit - answered - rec.frac) // 1000)
        return rec

    @contextmanager
    def _faulting(self) -> Iterator[Random]:
        """Route every draw to the fault stream while a fault is made."""
        self.rng, calls = self.fault_rng, self.rng
        try:
            yield self.rng
        finally:
            self.rng = calls

    def correct(self, rec: SimCall) -> SimCall:
        with self._faulting():
            return self._correct(rec)

    def _correct(self, rec: SimCall) -> SimCall:
        """Version 2: sold after all, re-billed talk, AMD re-judged, or disposition fixed."""
        rng, new = self.rng, replace(rec, version=rec.version + 1, kind="correction")
        if not rec.connect and (rec.disposition not in UNANSWERED or rng.random() < 0.25):
            new.disposition, new.amd = "answered", "human"  # it was a person after all
            new.ring, new.frac = min(new.ring, rng.randint(4000, 15000)), rng.randint(0, 900)
            self._converse(new)
        elif not rec.connect:  # relabelled, counts unchanged
            new.disposition = rng.choice([d for d in UNANSWERED if d != rec.disposition])
        else:
            changes = ["talk"] + ["machine"] * (rec.direction == "outbound")
            change = rng.choice(changes + ["sale"] * (rec.outcome != "sale"))
            if change == "sale":
                self._sell(new)
            elif change == "talk":
                new.talk = rng.choice((rec.talk + rng.randint(10, 120), rec.talk // 2,
                                       rng.randint(25, 35)))  # fmt: skip
            else:
                new.disposition, new.amd, new.outcome, new.wrap = "voicemail", "machine", None, 0
                new.sale, new.list_price, new.new_customer = None, None, False
        return self._clamp(new)

    def ts(self, ms: int) -> str:
        moment = datetime.fromtimestamp(ms // 1000, self.zone).replace(microsecond=ms % 1000 * 1000)
        return moment.isoformat(timespec="milliseconds")

    def cdr(self, rec: SimCall) -> dict[str, Any]:
        rep, answered = self.reps[rec.rep], rec.answered
        return {
            "schema_version": 1, "call_id": rec.call_id, "version": rec.version,
            "rep_id": rep.rep_id, "team_id": rep.team_id,
            "campaign_id": self.campaign_ids[rec.campaign], "direction": rec.direction,
            "dialed_at": self.ts(rec.dialed),
            "answered_at": None if answered is None else self.ts(answered),
            "ended_at": self.ts(rec.ended), "disposition": rec.disposition, "amd": rec.amd,
            "talk_seconds": rec.talk, "wrap_seconds": rec.wrap, "outcome": rec.outcome,
            "sale_amount": money_text(rec.sale), "currency": "CNY", "new_customer": rec.new_customer,
            "list_price": money_text(rec.list_price), "sold_price": money_text(rec.sale),
        }  # fmt: skip

    def dumps(self, rec: SimCall) -> bytes:
        return orjson.dumps(self.cdr(rec))

    def key(self, rec: SimCall) -> bytes:
        return self.keys[rec.rep]

    def team_of(self, rec: SimCall) -> str:
        return self.reps[rec.rep].team_id

    def bad(self) -> tuple[bytes, str, bytes]:
        """A malformed event: its key (the base call's rep), expected reason and bytes."""
        with self._faulting() as rng:
            reason, value = make_bad(rng, self._base)
            return self._bad_key, reason, value

    def _base(self, shape: str) -> dict[str, Any]:
        """A valid, uncounted call for a fault maker to break."""
        rng, rep, cid = self.rng, self._rep(), f"{self.tag}-bad-{next(self.bad_ids)}"
        self._bad_key = self.keys[rep]
        if shape == "future":  # a year ahead unless live: stays future if the topic is replayed
            future = time.time_ns() // 1_000_000 + 3600_000 if self.spec.live else self.future
            rec = self.call(rep, future + rng.randint(0, 3600_000), "bad", cid=cid)
        elif self.spec.live:
            rec = self._ending_now(self.call(rep, 0, "bad", shape, cid))
        else:
            lo, hi = day_window(rng.choice(self.days), self.zone, self.now)
            rec = self.call(rep, rng.randint(lo, hi), "bad", shape, cid)
        return self.cdr(rec)


