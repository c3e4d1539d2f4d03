"""What the live feeds share (``--listen`` and the database readers): legs remembered across
deliveries, one record mapped to a call, and waiting for Kafka before a dialer is answered.

A live feed sees a call's legs one delivery at a time (FreeSWITCH posts the A and the B leg
separately; Asterisk inserts one ``cdr`` row per leg). So every leg is sent at once as the
call it belongs to *so far*: with its other legs remembered (:class:`RecentCalls`), the
call's ``version`` (``ingest.legs.call_version``: more legs, higher version) grows with it,
and the worker keeps the fullest. A delivery seen twice (a retry) sends the same bytes again,
which the worker ignores as a duplicate: a retry is never skipped here, because the first
try may be the one Kafka never acknowledged.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ingest.adapter import Adapter
from ingest.build import call_to_cdr
from ingest.leg_journal import Key, LegJournal
from ingest.legs import Leg
from ingest.mapping import IngestMapping
from ingest.producer import Sink, dead_letter_headers
from ingest.progress import Progress
from ingest.rejects import IngestRejection, Unmappable
from ingest.sources import LineFeed, SourceRecord

if TYPE_CHECKING:
    from kafka.future import Future

# the producer of a live feed: a record waits at most 5 ms for others to share its batch; a
# broker that does not answer makes a POST fail within 15 s (so the dialer retries), and never
# blocks the listener's event loop for more than 5 s
LIVE_PRODUCER = {"linger_ms": 5, "request_timeout_ms": 5_000, "delivery_timeout_ms": 15_000,
                 "max_block_ms": 5_000}  # fmt: skip


class RecentCalls:
    """The legs of the calls seen lately, by call id (an LRU of ``remembered`` calls).

    A leg is known by its bytes (a pushed document sent twice is one leg) or, given one, by
    its ``key`` (a database row, whose later state replaces its earlier one). Legs are kept
    without their bytes (a digest stands for them): mapping the call does not need them.
    With a ``journal`` (``--listen``), each new leg is written there too, and the journal's
    legs are remembered first: a restart between two legs of a call still joins them.
    """

    def __init__(self, remembered: int = 50_000, journal: LegJournal | None = None) -> None:
        self.remembered = remembered
        self._calls: OrderedDict[str, dict[Key, Leg]] = OrderedDict()
        self.journal = None
        if journal is not None:
            for key, leg in journal.load():
                self.add(leg, key)
            self.journal = journal

    def add(self, leg: Leg, key: Key | None = None) -> list[Leg]:
        """The call's legs with ``leg`` (in place of the leg of the same bytes or key)."""
        legs = self._calls.pop(leg.call_id, {})
        if key is None:
            key = hashlib.blake2b(leg.raw, digest_size=16).digest()
        known = legs.get(key)
        legs[key] = kept = replace(leg, raw=b"")
        self._calls[leg.call_id] = legs
        if len(self._calls) > self.remembered:
            self._calls.popitem(last=False)
        if self.journal is not None and known != kept:
            self.journal.append(key, kept)
        return list(legs.values())

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()


@dataclass
class Delivery:
    """One delivery's outcome: the records sent (calls and dead letters) and what they became."""

    origin: str
    calls: int = 0
    rejected: int = 0
    futures: list[Future | None] = field(default_factory=list)


class LiveMapper:
    """Records of one delivery -> calls and dead letters on the sink, with their futures."""

    def __init__(self, adapter: Adapter, mapping: IngestMapping, sink: Sink, progress: Progress,
                 *, fmt: str, calls: RecentCalls | None = None) -> None:  # fmt: skip
        self.adapter, self.mapping, self.sink, self.progress = adapter, mapping, sink, progress
        self.fmt = fmt
        self.calls = calls if calls is not None else RecentCalls()

    def reject(self, delivery: Delivery, line: int, raw: bytes, key: str, error: Unmappable,
               headers: list[tuple[str, bytes]]) -> None:  # fmt: skip
        self.progress.reject(delivery.origin, line, error.reason, error.detail)
        letter = [*dead_letter_headers(error.reason, error.detail, delivery.origin, line, self.fmt), *headers]
        delivery.futures.append(self.sink.dead_letter(key, raw, letter))
        delivery.rejected += 1

    def map(self, delivery: Delivery, record: SourceRecord, headers: list[tuple[str, bytes]] = [],  # noqa: B006
            leg_key: str | None = None) -> tuple[Leg, str, bytes] | None:  # fmt: skip
        """(leg, rep_id, CDR bytes) of the call the record belongs to, as far as it is known;
        None when the record was dead-lettered instead (``headers`` go with the dead letter)."""
        self.progress.records += 1
        if record.problem is not None:
            error = Unmappable(IngestRejection.UNREADABLE_RECORD, record.problem)
            self.reject(delivery, record.line, record.raw, "", error, headers)
            return None
        if self.mapping.fields:
            record.fields = renamed(record.fields, self.mapping.fields)
        try:
            leg = self.adapter.leg(record)
        except Unmappable as error:
            self.reject(delivery, record.line, record.raw, "", error, headers)
            return None
        legs = self.calls.add(leg, leg_key)
        try:
            rep_id, value = call_to_cdr(
                legs, direction=self.mapping.direction, currency=self.mapping.currency
            )
        except Unmappable as error:
            self.reject(delivery, record.line, record.raw, leg.call_id, error, headers)
            return None
        return leg, rep_id, value

    def emit(self, delivery: Delivery, rep_id: str, value: bytes) -> None:
        delivery.futures.append(self.sink.call(rep_id, value))
        delivery.calls += 1
        self.progress.calls += 1

    def send(self, delivery: Delivery, record: SourceRecord,
             headers: list[tuple[str, bytes]] = []) -> None:  # noqa: B006 - never mutated # fmt: skip
        """Map one record and send its call (or its dead letter)."""
        mapped = self.map(delivery, record, headers)
        if mapped is not None:
            self.emit(delivery, mapped[1], mapped[2])

    def records(self, raw: bytes, origin: str, line: int = 1) -> Iterator[SourceRecord]:
        """One document's records, read by the format's own adapter."""
        return self.adapter.records(LineFeed([(line, raw)]), origin, whole_file=True)


def renamed(fields: dict[str, str], names: dict[str, str]) -> dict[str, str]:
    """``fields`` with each format field name of the mapping's ``fields`` taken from the record's
    own name for it (as written, else in lower case: ``asterisk-json`` lower-cases names)."""
    found = {ours: fields.get(theirs, fields.get(theirs.lower())) for ours, theirs in names.items()}
    return {**fields, **{ours: value for ours, value in found.items() if value is not None}}


async def acknowledged(futures: list[Future | None]) -> list[BaseException]:
    """Wait until Kafka has answered for every future; its errors (none: all stored)."""
    loop = asyncio.get_running_loop()
    waits = []
    for future in futures:
        if future is None:  # --dry-run: printed, nothing to wait for
            continue
        done: asyncio.Future[BaseException | None] = loop.create_future()

        def settle(outcome: BaseException | None, done: asyncio.Future[BaseException | None] = done) -> None:
            def resolve() -> None:
                if not done.done():
                    done.set_result(outcome)

            loop.call_soon_threadsafe(resolve)

        future.add_callback(lambda _meta, settle=settle: settle(None))
        future.add_errback(settle)
        waits.append(done)
    outcomes = await asyncio.gather(*waits)
    return [outcome for outcome in outcomes if outcome is not None]
