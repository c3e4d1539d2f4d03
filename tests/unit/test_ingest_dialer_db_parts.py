"""The pieces of the database feeds that need no server: DSNs, rows as fields, the cursor file,
and what a live VICIdial status means."""

from __future__ import annotations

import subprocess
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from deploy.local.processes import callfloor_command
from ingest.clock import LocalClock
from ingest.cursor import CursorError, FeedCursor
from ingest.dialer_db import VicidialDbAdapter, default_cursor_path, text_fields
from ingest.dsn import DialerDbError, Dsn
from ingest.mapping import IngestMapping
from ingest.sources import SourceRecord
from schemas.settings import Settings

NONE = SecretStr("")


def test_a_dsn_keeps_its_password_out_of_sight() -> None:
    dsn = Dsn.parse("mysql://cron:p%40ss-w0rd@db.floor:3307/asterisk", NONE)
    assert (dsn.host, dsn.port, dsn.user, dsn.database) == ("db.floor", 3307, "cron", "asterisk")
    assert dsn.password.get_secret_value() == "p@ss-w0rd"
    assert "p@ss" not in str(dsn) and "p@ss" not in repr(dsn)
    assert str(dsn) == "mysql://cron@db.floor:3307/asterisk"


def test_a_dsn_without_a_password_takes_the_setting() -> None:
    dsn = Dsn.parse("mysql://cron@127.0.0.1/asterisk", SecretStr("from-env"))
    assert dsn.port == 3306 and dsn.password.get_secret_value() == "from-env"


@pytest.mark.parametrize("text", [
    "asterisk", "postgres://u@h/db", "mysql://u@h/", "mysql://h/db", "mysql://u@h:x/db",
    "mysql://u:Pw-中文-9@/db", "mysql://u:Pw-中文-9@h:99999/db", "mysql://u:Pw-中文-9@[::1/db",
])  # fmt: skip
def test_a_bad_dsn_says_what_is_expected_and_never_echoes_it(text: str) -> None:
    with pytest.raises(DialerDbError, match="--dsn") as caught:
        Dsn.parse(text, NONE)
    assert "Pw-" not in str(caught.value) and "中" not in str(caught.value), caught.value
    assert "CALLFLOOR_INGEST_DB_PASSWORD" in str(caught.value) or "port" in str(caught.value)


def test_the_help_shows_the_dsn_without_a_password() -> None:
    """The help showed ``mysql://USER:PASSWORD@...``, the form live-feeds.md advises against
    (``ps`` shows the command line to every user of the machine)."""
    done = subprocess.run(callfloor_command("ingest", "--help"), capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "400"})  # fmt: skip
    said = " ".join(done.stdout.split())
    assert "--dsn DSN vicidial-db/asterisk-db: mysql://USER@HOST[:PORT]/DATABASE, the password in " \
        "CALLFLOOR_INGEST_DB_PASSWORD" in said, said
    assert "PASSWORD@" not in said


def test_rows_become_text_fields_with_null_as_empty() -> None:
    row = {
        "uniqueid": "1.1",
        "call_date": datetime(2026, 11, 4, 9, 5, 7),
        "length_in_sec": 30,
        "user_group": None,
        "queue_seconds": Decimal("1.50"),
        "Comments": b"caf\xc3\xa9",
    }
    assert text_fields(row) == {
        "uniqueid": "1.1",
        "call_date": "2026-11-04 09:05:07",
        "length_in_sec": "30",
        "user_group": "",
        "queue_seconds": "1.50",
        "comments": "café",
    }


def test_the_cursor_survives_a_round_trip_and_forgets_old_entries(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "feed.cursor.json"
    cursor = FeedCursor.load(path)
    assert cursor.high_water is None and not path.exists()
    cursor.high_water = datetime(2026, 11, 4, 10, 0, 0)
    cursor.rows = {"old": ["d1", "2026-11-04 08:00:00"], "new": ["d2", "2026-11-04 09:59:00"]}
    cursor.calls = {"vd-1": ["c1", 2, "2026-11-04 09:59:00"]}
    cursor.forget_before("2026-11-04 09:00:00")
    cursor.save()
    again = FeedCursor.load(path)
    assert (again.high_water, again.rows, again.calls) == (
        cursor.high_water,
        {"new": ["d2", "2026-11-04 09:59:00"]},
        {"vd-1": ["c1", 2, "2026-11-04 09:59:00"]},
    )
    assert not path.with_name(path.name + ".tmp").exists()


def test_an_unreadable_cursor_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "feed.cursor.json"
    path.write_text("{not json")
    with pytest.raises(CursorError, match="move it away"):
        FeedCursor.load(path)


def test_the_default_cursor_lives_in_the_data_dir_named_after_its_source(tmp_path: Path) -> None:
    dsn = Dsn.parse("mysql://cron@db.floor:3306/asterisk", NONE)
    path = default_cursor_path(Settings(data_dir=tmp_path), "vicidial-db", dsn)
    assert path == tmp_path / "ingest" / "vicidial-db-db.floor-3306-asterisk.cursor.json"


def _vicidial_leg(status: str, length: int = 0) -> tuple[VicidialDbAdapter, SourceRecord]:
    adapter = VicidialDbAdapter(IngestMapping(), LocalClock(ZoneInfo("Asia/Shanghai")))
    fields = {
        "uniqueid": "1793800000.5",
        "status": status,
        "start_epoch": "1793800000",
        "length_in_sec": str(length),
        "user": "6001",
        "user_group": "TEAMA",
        "campaign_id": "SOLAR",
        "call_date": "2026-11-04 10:00:00",
    }
    return adapter, SourceRecord("vicidial_log 1793800000.5", 0, b"{}", fields)


def test_a_call_in_progress_is_a_connect_and_a_ringing_one_waits() -> None:
    adapter, record = _vicidial_leg("INCALL")
    leg = adapter.leg(record)
    assert (leg.disposition, leg.amd, leg.outcome, leg.talk_seconds) == ("answered", "human", None, 0)
    assert not adapter.pending(record.fields)
    adapter, record = _vicidial_leg("QUEUE")
    assert adapter.pending(record.fields)
    adapter, record = _vicidial_leg("SALE", 300)
    assert (adapter.leg(record).outcome, adapter.leg(record).talk_seconds) == ("sale", 300)
