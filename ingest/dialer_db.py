"""``callfloor ingest --format vicidial-db|asterisk-db --dsn mysql://...``: calls read from the
dialer's own MySQL/MariaDB tables as rows appear and change.

- ``vicidial-db`` reads ``vicidial_log`` (one row per outbound call, inserted when the call
  is placed, its ``status`` updated as it goes: ``INCALL`` while the rep talks, then the rep's
  disposition such as ``SALE``) with the rep's dispo time from ``vicidial_agent_log``
  (``dispo_sec`` of the same ``uniqueid`` and user) as ``wrap_seconds``.
- ``asterisk-db`` reads the ``cdr`` table that ``cdr_adaptive_odbc`` / ``cdr_mysql`` write:
  one row per leg at hangup, legs of a call sharing ``linkedid``.

Rows are mapped by the file formats' adapters (VICIdial's status table, Asterisk's leg rules,
the ``--mapping``). Each poll reads the rows whose time column (``call_date``; ``end``, else
``calldate``) is at most a minute older than the newest seen; every
``CALLFLOOR_INGEST_DB_RESCAN_SECONDS`` it re-reads ``CALLFLOOR_INGEST_DB_WINDOW_SECONDS``,
which is how a status changed after the call ended is seen. A row unchanged since it was
handled is skipped; a call whose CDR changed is sent again with a higher ``version``
(1000 x its revision + the legs' version), so the worker replaces it. The cursor
(``ingest.cursor``) is saved only once Kafka has acknowledged the poll's calls and dead
letters: after a crash the same rows are read and sent again, which counts nothing twice.

SQL never carries input: the table and column names are constants, the time is a parameter.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson

from ingest.adapter import Adapter
from ingest.asterisk import AsteriskAdapter
from ingest.clock import LocalClock
from ingest.cursor import STAMP, CursorError, FeedCursor
from ingest.dsn import DialerDbError, Dsn
from ingest.live import Delivery, LiveMapper
from ingest.mapping import IngestMapping, StatusRule
from ingest.producer import Sink
from ingest.progress import Progress
from ingest.rejects import Unmappable
from ingest.run import _stop_on_signals
from ingest.sources import SourceRecord
from ingest.vicidial import NOT_FINAL, STATUSES, VicidialCsvAdapter
from schemas.settings import Settings

if TYPE_CHECKING:
    from pymysql.connections import Connection
    from pymysql.cursors import Cursor

VERSION_STEP = 1000  # version = revision x this + the legs' version (< 1000: under 100 legs)
OVERLAP = timedelta(seconds=60)  # each poll re-reads this much before the newest row seen
EARLIEST = datetime(1970, 1, 2)
# MySQL errors that waiting does not mend: access denied (database, password), no such
# database, no right to the table, no such table
FATAL_CODES = frozenset({1044, 1045, 1049, 1142, 1146})


class VicidialDbAdapter(VicidialCsvAdapter):
    """``vicidial_log`` rows, read live: a call in progress is a connect already.

    A file export refuses ``INCALL``/``DISPO`` rows (the call is not over); live, the rep is
    talking to a person, so the call is sent answered, without an outcome, and sent again
    with the rep's disposition when the row changes. ``QUEUE`` (ringing, no rep yet) waits.
    """

    name = "vicidial-db"
    live_statuses: Mapping[str, StatusRule] = {
        "INCALL": StatusRule(disposition="answered", amd="human"),
        "DISPO": StatusRule(disposition="answered", amd="human"),
    }

    def __init__(self, mapping: IngestMapping, clock: LocalClock) -> None:
        super().__init__(mapping, clock)
        overrides = {k.upper(): v for k, v in mapping.statuses.items()}
        self.statuses = {**STATUSES, **self.live_statuses, **overrides}

    def pending(self, fields: Mapping[str, str]) -> bool:
        """A row whose call is not over (``QUEUE``): not sent, not dead-lettered, read again."""
        return self.statuses.get(fields.get("status", "").strip().upper()) == NOT_FINAL


class AsteriskDbAdapter(AsteriskAdapter):
    name = "asterisk-db"

    def pending(self, fields: Mapping[str, str]) -> bool:
        return False


@dataclass(frozen=True)
class Table:
    """What a ``--format`` reads: the table, its time column(s) by preference, the row key."""

    name: str
    adapter: type[VicidialDbAdapter | AsteriskDbAdapter]
    time_columns: tuple[str, ...]
    key: Callable[[Mapping[str, str]], str]
    extra: str = ""  # more select-list items, each ", ..." (constants only)


READERS: dict[str, Table] = {
    "vicidial-db": Table(
        "vicidial_log", VicidialDbAdapter, ("call_date",), lambda row: row["uniqueid"],
        ", (SELECT MAX(a.dispo_sec) FROM vicidial_agent_log a WHERE a.uniqueid = t.uniqueid "
        "AND a.user = t.user) AS wrap_seconds",
    ),
    "asterisk-db": Table(
        "cdr", AsteriskDbAdapter, ("end", "calldate"),
        lambda row: "|".join((row.get("uniqueid", ""), row.get("sequence", ""), row.get("channel", ""),
                              row.get("dstchannel", ""), row.get("start") or row.get("calldate", ""))),
    ),
}  # fmt: skip


def default_cursor_path(settings: Settings, fmt: str, dsn: Dsn) -> Path:
    """``CALLFLOOR_DATA_DIR/ingest/<format>-<host>-<port>-<database>.cursor.json``."""
    name = re.sub(r"[^\w.-]", "_", f"{fmt}-{dsn.host}-{dsn.port}-{dsn.database}")
    return settings.data_dir / "ingest" / f"{name}.cursor.json"


def text_fields(row: Mapping[str, object]) -> dict[str, str]:
    """A row as the adapters read records: lower-case names, text values, NULL as empty."""
    fields = {}
    for name, value in row.items():
        if value is None:
            text = ""
        elif isinstance(value, datetime):
            text = value.strftime(STAMP)
        elif isinstance(value, date | Decimal | int | float):
            text = str(value)
        elif isinstance(value, bytes):
            text = value.decode("utf-8", "replace")
        else:
            text = str(value)
        fields[name.lower()] = text
    return fields


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


class DatabaseFeed:
    """Polls one table; :meth:`poll` reads, maps, sends, waits for Kafka, then moves the cursor."""

    def __init__(self, settings: Settings, table: Table, dsn: Dsn, cursor: FeedCursor, mapper: LiveMapper,
                 sink: Sink) -> None:  # fmt: skip
        self.settings, self.table, self.dsn, self.cursor = settings, table, dsn, cursor
        self.mapper, self.sink = mapper, sink
        # follow_database gives the mapper one of these two: they read rows, not files
        self.adapter: VicidialDbAdapter | AsteriskDbAdapter = mapper.adapter  # type: ignore[assignment]
        self.connection: Connection[Cursor] | None = None
        self.time_column = ""
        self.loaded: set[str] = set()  # rows whose legs this process holds
        self.last_rescan = 0.0

    def connect(self) -> None:
        self.connection = self.dsn.connect()
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = %s",
                (self.table.name,),
            )
            columns = {str(row[0]).lower() for row in cursor.fetchall()}
        if not columns:
            raise DialerDbError(f"{self.dsn}: no table {self.table.name!r} (or no right to read it); "
                                "is --format right?")  # fmt: skip
        found = [c for c in self.table.time_columns if c in columns]
        if not found:
            raise DialerDbError(f"{self.dsn}: table {self.table.name} has none of the columns "
                                f"{', '.join(self.table.time_columns)}")  # fmt: skip
        self.time_column = found[0]

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _select(self, since: datetime) -> list[dict[str, object]]:
        import pymysql

        column = f"`{self.time_column}`"  # one of Table.time_columns, never input
        sql = (f"SELECT t.*{self.table.extra} FROM {self.table.name} t "
               f"WHERE t.{column} >= %s ORDER BY t.{column}")  # fmt: skip
        assert self.connection is not None, "poll() connects before it reads"
        with self.connection.cursor(pymysql.cursors.DictCursor) as cursor:
            cursor.execute(sql, (since,))
            return list(cursor.fetchall())

    def _newest(self) -> datetime | None:
        assert self.connection is not None, "poll() connects before it reads"
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(`{self.time_column}`) FROM {self.table.name}")
            newest = cursor.fetchone()[0]  # type: ignore[index]  # MAX() always answers one row
        return newest if isinstance(newest, datetime) else None

    def since(self) -> datetime:
        """Where this poll starts: a minute before the newest row, or the window when due."""
        window = timedelta(seconds=self.settings.ingest_db_window_seconds)
        high_water = self.cursor.high_water
        if high_water is None:  # first start: the recent window of what the table holds
            newest = self._newest()
            return newest - window if newest is not None else EARLIEST
        now = time.monotonic()
        if now - self.last_rescan >= self.settings.ingest_db_rescan_seconds:
            self.last_rescan = now
            return high_water - window
        return high_water - OVERLAP

    def poll(self) -> int:
        """Read once; the calls sent (0 when nothing changed). The cursor moves only if Kafka took all."""
        if self.connection is None:
            self.connect()
        rows = self._select(self.since())
        delivery = Delivery(origin=f"{self.dsn.database}.{self.table.name}")
        seen_rows: dict[str, list[str]] = {}
        sent_calls: dict[str, list[Any]] = {}
        newest = self.cursor.high_water
        for row in rows:
            fields = text_fields(row)
            stamp_value = row.get(self.time_column)
            if isinstance(stamp_value, datetime) and (newest is None or stamp_value > newest):
                newest = stamp_value
            if self.adapter.pending(fields):
                continue
            self._row(delivery, fields, seen_rows, sent_calls)
        self.sink.flush()
        failures = [f.exception for f in delivery.futures if f is not None and f.failed()]
        if failures:
            print(f"callfloor ingest: Kafka did not take {len(failures)} records ({failures[0]!r}); "
                  "the rows are read again", file=sys.stderr)  # fmt: skip
            return 0
        self.cursor.rows.update(seen_rows)
        self.cursor.calls.update(sent_calls)
        if seen_rows or newest != self.cursor.high_water:
            self.cursor.high_water = newest
            if newest is not None:
                horizon = newest - timedelta(seconds=self.settings.ingest_db_window_seconds) - OVERLAP
                self.cursor.forget_before(horizon.strftime(STAMP))
                self.loaded &= self.cursor.rows.keys()
            self.cursor.save()
        return delivery.calls

    def _row(self, delivery: Delivery, fields: dict[str, str], seen_rows: dict[str, list[str]],
             sent_calls: dict[str, list[Any]]) -> None:  # fmt: skip
        key = self.table.key(fields)
        raw = orjson.dumps(fields)
        row_digest, stamp = digest(raw), fields.get(self.time_column, "")
        known = self.cursor.rows.get(key)
        record = SourceRecord(f"{delivery.origin} {key}", 0, raw, fields)
        if known is not None and known[0] == row_digest:
            if key not in self.loaded:  # handled before a restart: hold its leg for its call's other legs
                self.loaded.add(key)
                with contextlib.suppress(Unmappable):  # it was dead-lettered then
                    self.mapper.calls.add(self.adapter.leg(record), key)
            return
        self.loaded.add(key)
        seen_rows[key] = [row_digest, stamp]
        mapped = self.mapper.map(delivery, record, leg_key=key)
        if mapped is None:
            return
        leg, rep_id, value = mapped
        document = orjson.loads(value)
        if "wrap_seconds" in fields:
            document["wrap_seconds"] = int(fields["wrap_seconds"] or 0)
        legs_version, document["version"] = document["version"], 0
        cdr_digest = digest(orjson.dumps(document))
        before = sent_calls.get(leg.call_id) or self.cursor.calls.get(leg.call_id)
        if before is not None and before[0] == cdr_digest:
            return
        revision = before[1] + 1 if before is not None else 1
        document["version"] = revision * VERSION_STEP + legs_version
        sent_calls[leg.call_id] = [cdr_digest, revision, stamp]
        self.mapper.emit(delivery, rep_id, orjson.dumps(document))


def follow_database(settings: Settings, fmt: str, dsn_text: str, cursor_path: Path | None,
                    mapping: IngestMapping, zone: ZoneInfo, sink: Sink, progress: Progress,
                    stop: threading.Event | None = None) -> None:  # fmt: skip
    """Poll until SIGINT/SIGTERM (or ``stop``); a lost database is waited for, never a crash."""
    table = READERS[fmt]
    dsn = Dsn.parse(dsn_text, settings.ingest_db_password)
    path = cursor_path or default_cursor_path(settings, fmt, dsn)
    try:
        cursor = FeedCursor.load(path)
    except CursorError as exc:
        raise DialerDbError(str(exc)) from None
    adapter: Adapter = table.adapter(mapping, LocalClock(zone))
    feed = DatabaseFeed(
        settings, table, dsn, cursor, LiveMapper(adapter, mapping, sink, progress, fmt=fmt), sink
    )
    stop = stop or threading.Event()
    restore = _stop_on_signals(stop)
    print(f"callfloor ingest: reading {table.name} at {dsn} every {settings.ingest_poll_seconds}s; "
          f"cursor {path}", file=sys.stderr)  # fmt: skip
    backoff = 0.0
    try:
        while not stop.is_set():
            try:
                feed.poll()
                backoff = 0.0
            except DialerDbError:
                raise
            except Exception as exc:  # noqa: BLE001 - pymysql's errors: say what, never a traceback
                if not type(exc).__module__.startswith("pymysql") and not isinstance(exc, OSError):
                    raise
                if exc.args and exc.args[0] in FATAL_CODES:
                    raise DialerDbError(f"{dsn}: {exc.args[-1]}") from None
                backoff = _wait_message(dsn, exc, backoff)
            if backoff:
                feed.close()
            stop.wait(backoff or settings.ingest_poll_seconds)
    finally:
        restore()
        feed.close()


def _wait_message(dsn: Dsn, exc: BaseException, backoff: float) -> float:
    backoff = min(max(backoff * 2, 1.0), 30.0)
    reason = exc.args[-1] if exc.args else exc
    print(f"callfloor ingest: {dsn} unreachable ({reason}); trying again in {backoff:.0f}s", file=sys.stderr)
    return backoff
