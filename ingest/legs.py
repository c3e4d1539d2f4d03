"""One dialer row as a call leg, and the collapsing of a call's legs into one call attempt.

Asterisk writes one row per leg: a Dial to several channels (parallel ringing, Local
channels, failover) leaves rows that share ``uniqueid``/``linkedid``, at most one of them
answered. FreeSWITCH writes a CDR per leg too. The call counts once, with the figures of
its best leg (:func:`primary_leg`): an answer counts only where a person was bridged, so an
Asterisk row the PBX answered itself (to play a message or hang up, no ``dstchannel``) is
read as unanswered (``pbx_answered``) and ranks below the real legs it followed; a
``Local/...;2`` helper row (``helper``) loses ties to the real legs and gives no identity
while another leg can (``build``). Legs are grouped by call id in a window of recent rows;
a leg arriving after its call was sent reopens the call (remembered in a bounded LRU) and
sends it again.

The CDR ``version`` is :func:`call_version`: more legs win, then a better primary leg. So a
complete call always has the same (call_id, version, bytes) however it is read (again, in
pieces, after a rotation); a call first sent short of a leg is corrected by the fuller one;
and two imports that each saw only some legs (a call split by a rotation, imported file by
file) keep the part with the answered leg.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

# which leg's figures count: an answered leg beats anything else, then the furthest outcome
DISPOSITION_RANK = {"answered": 6, "voicemail": 5, "abandoned": 4, "busy": 3, "no_answer": 2,
                    "congestion": 1, "failed": 0}  # fmt: skip


@dataclass(slots=True)
class Leg:
    call_id: str
    origin: str
    line: int
    raw: bytes
    started: datetime
    answered: datetime | None
    ended: datetime
    disposition: str
    talk_seconds: int
    rep_id: str | None = None
    team_id: str | None = None
    campaign_id: str | None = None
    amd: str | None = None
    outcome: str | None = None
    sale_amount: str | None = None
    helper: bool = False  # an Asterisk ``Local/...;2`` half: the dialplan's own leg, no rep's
    pbx_answered: bool = False  # answered by the PBX with nobody bridged: read as unanswered

    def rank(self) -> tuple[int, bool, bool, int, datetime]:
        return (DISPOSITION_RANK[self.disposition], not self.helper, not self.pbx_answered,
                self.talk_seconds, self.ended)  # fmt: skip


def call_version(legs: list[Leg], primary: Leg) -> int:
    """10 x distinct legs + the primary leg's disposition rank (0..6)."""
    return len(legs) * 10 + DISPOSITION_RANK[primary.disposition]


def primary_leg(legs: list[Leg]) -> Leg:
    """The leg whose figures count: the highest rank (outcome, then a real leg over a helper or a
    PBX-answered one, talk, end), the first such leg on a tie."""
    best = legs[0]
    for leg in legs[1:]:
        if leg.rank() > best.rank():
            best = leg
    return best


class LegCollapser:
    """Groups legs by call id; yields a call's legs once no row of it was seen for ``window`` rows."""

    def __init__(self, window: int = 2000, remembered: int = 20_000) -> None:
        self.window, self.remembered = window, remembered
        self._open: OrderedDict[str, tuple[int, list[Leg]]] = OrderedDict()
        self._sent: OrderedDict[str, list[Leg]] = OrderedDict()
        self._seen = 0
        self.duplicate_legs = 0

    def add(self, leg: Leg) -> Iterator[list[Leg]]:
        self._seen += 1
        entry = self._open.pop(leg.call_id, None)
        if entry is None:
            legs = self._sent.pop(leg.call_id, None) or []
            reopened = bool(legs)
        else:
            legs, reopened = entry[1], False
        if any(known.raw == leg.raw for known in legs):
            self.duplicate_legs += 1
            if reopened:
                self._sent[leg.call_id] = legs
                return
        else:
            legs.append(leg)
        self._open[leg.call_id] = (self._seen, legs)
        while self._open:
            call_id, (last_seen, legs) = next(iter(self._open.items()))
            if self._seen - last_seen < self.window:
                break
            yield self._close(call_id)

    def flush(self) -> Iterator[list[Leg]]:
        """Every open call, now (end of input, or a quiet moment while following)."""
        while self._open:
            yield self._close(next(iter(self._open)))

    def _close(self, call_id: str) -> list[Leg]:
        _, legs = self._open.pop(call_id)
        self._sent[call_id] = legs
        if len(self._sent) > self.remembered:
            self._sent.popitem(last=False)
        return legs
