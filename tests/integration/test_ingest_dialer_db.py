"""``callfloor ingest --format vicidial-db|asterisk-db``: rows written by "the dialer" into a real
MariaDB server (Debian's, started here) with VICIdial's and Asterisk's published tables, read
live into the real broker, worker and ClickHouse engine.

A call counts when its row appears, is corrected when its status changes (INCALL -> SALE,
with the rep's dispo time as wrap), keeps counting once across restarts, with the cursor and
without it, and an Asterisk call whose legs land in separate inserts counts once.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from deploy.local.processes import callfloor_command
from schemas.settings import Settings
from streams.topics import ensure_topics
from tests.integration.test_ingest import row
from tests.support.cli import report
from tests.support.feeds import running_ingest
from tests.support.kafka import read_topic
from tests.support.mariadb import PASSWORD, MariaDB
from tests.support.ports import free_port
from tests.support.processes import running_worker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

MAPPINGS = Path(__file__).resolve().parents[1] / "samples" / "ingest" / "mappings"
FAST = {
    "CALLFLOOR_INGEST_DB_PASSWORD": PASSWORD,
    "CALLFLOOR_INGEST_POLL_SECONDS": "0.2",
    "CALLFLOOR_INGEST_DB_RESCAN_SECONDS": "1",
}
VICIDIAL_ROW = (
    "INSERT INTO vicidial_log (uniqueid, lead_id, list_id, campaign_id, call_date, start_epoch, end_epoch, "
    "length_in_sec, status, phone_code, phone_number, user, comments, processed, user_group, term_reason) "
    "VALUES (%s, %s, 101, 'SOLAR', FROM_UNIXTIME(%s), %s, %s, %s, %s, '1', %s, %s, %s, 'N', %s, 'NONE')"
)
CDR_ROW = (
    "INSERT INTO cdr (accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start, "
    "answer, end, duration, billsec, disposition, amaflags, userfield, uniqueid, linkedid, peeraccount, "
    "sequence) VALUES ('', %s, %s, 'outbound', %s, %s, %s, 'Dial', %s, %s, %s, %s, %s, %s, %s, "
    "'DOCUMENTATION', 'campaign=loans', %s, %s, '', %s)"
)


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[MariaDB]:
    server = MariaDB(tmp_path_factory.mktemp("mariadb"), logs_dir / "mariadb.log").start()
    server.load_schema("vicidial.sql")
    server.load_schema("asterisk_cdr.sql")
    yield server
    server.stop()


def business_day(settings: Settings, epoch: int) -> str:
    return datetime.fromtimestamp(epoch, settings.zone).date().isoformat()


def report_now(settings: Settings, day: str) -> list[dict] | None:
    """The day's report, or None while the worker has not made its tables yet."""
    try:
        return report(settings, day, day)
    except AssertionError:
        return None


def settle(settings: Settings, day: str, expected: list[dict], what: str) -> None:
    wait_for(
        lambda: report_now(settings, day) == expected,
        90,
        what,
        every_s=1,
        progress=lambda: str(report_now(settings, day)),
    )


def test_vicidial_calls_count_as_rows_appear_and_change_across_restarts(
    settings: Settings, worker_log: Path, logs_dir: Path, tmp_path: Path, mariadb: MariaDB
) -> None:
    ensure_topics(settings)
    cursor = tmp_path / "vicidial.cursor.json"
    args = (
        "--format",
        "vicidial-db",
        "--dsn",
        mariadb.dsn,
        "--mapping",
        str(MAPPINGS / "vicidial.yaml"),
        "--cursor",
        str(cursor),
    )
    log = logs_dir / "ingest-vicidial-db.log"
    start = int(time.time()) - 600
    day = business_day(settings, start)
    with running_worker(settings, worker_log):
        with running_ingest(settings, log, *args, env=FAST):
            mariadb.execute(
                VICIDIAL_ROW,
                [
                    (
                        "1765100000.11",
                        11,
                        start,
                        start,
                        start,
                        0,
                        "INCALL",
                        "13900000011",
                        "6001",
                        "",
                        "TEAMA",
                    ),
                    (
                        "1765100060.12",
                        12,
                        start + 60,
                        start + 60,
                        start + 90,
                        30,
                        "NA",
                        "13900000012",
                        "6001",
                        "",
                        "TEAMA",
                    ),
                    (
                        "1765100120.13",
                        13,
                        start + 120,
                        start + 120,
                        start + 125,
                        5,
                        "QUEUE",
                        "13900000013",
                        "VDAD",
                        "",
                        None,
                    ),
                ],
            )
            settle(
                settings,
                day,
                [row(day, "6001", "TEAMA", 2, 1, 0, 0)],
                "the INCALL call to count as a connect",
            )

            mariadb.execute(
                "UPDATE vicidial_log SET status = 'SALE', length_in_sec = 300, end_epoch = start_epoch "
                "+ 300, comments = 'amount=499.00' WHERE uniqueid = %s",
                [("1765100000.11",)],
            )
            mariadb.execute(
                "INSERT INTO vicidial_agent_log (user, server_ip, event_time, lead_id, campaign_id, "
                "talk_epoch, talk_sec, dispo_epoch, dispo_sec, status, user_group, uniqueid) "
                "VALUES ('6001', '10.0.0.9', FROM_UNIXTIME(%s), 11, 'SOLAR', %s, 300, %s, 25, 'SALE', "
                "'TEAMA', '1765100000.11')",
                [(start, start, start + 300)],
            )
            mariadb.execute(
                "UPDATE vicidial_log SET status = 'DROP' WHERE uniqueid = %s", [("1765100120.13",)]
            )
            sale = {**row(day, "6001", "TEAMA", 2, 1, 1, 300, 1, "499.00"), "wrap_seconds": 25}
            expected = [sale, row(day, "VDAD", "unassigned", 1, abandoned=1)]
            settle(settings, day, expected, "the SALE to replace the INCALL call, with its wrap time")
        assert cursor.exists(), "the cursor is kept where the import finds it again"

        mariadb.execute(
            VICIDIAL_ROW,
            [
                (
                    "1765100300.14",
                    14,
                    start + 300,
                    start + 300,
                    start + 345,
                    45,
                    "NI",
                    "13900000014",
                    "6002",
                    "",
                    "TEAMA",
                )
            ],
        )
        with running_ingest(settings, log, *args, env=FAST):  # restarted on its cursor
            expected = sorted([*expected, row(day, "6002", "TEAMA", 1, 1, 1, 45)], key=lambda r: r["rep_id"])
            settle(settings, day, expected, "the row written while the import was down")

        sent = len(read_topic(settings.kafka_bootstrap, settings.cdr_topic))
        cursor.unlink()
        with running_ingest(settings, log, *args, env=FAST):  # no cursor: the last window is read again
            wait_for(
                lambda: len(read_topic(settings.kafka_bootstrap, settings.cdr_topic)) >= sent + 4,
                60,
                "the window to be sent again",
            )
        wait_for(lambda: report(settings, day, day) == expected, 30, "the worker to take the resent calls")
        time.sleep(3)  # and a while longer: nothing may move
        assert report(settings, day, day) == expected, "re-reading a window counts nothing twice"
    assert PASSWORD not in log.read_text()


def _local(settings: Settings, epoch: int) -> str:
    """Asterisk writes the server's local time (here the business zone, the import's default)."""
    return datetime.fromtimestamp(epoch, settings.zone).strftime("%Y-%m-%d %H:%M:%S")


def test_asterisk_cdr_legs_inserted_apart_count_as_one_call(
    settings: Settings, worker_log: Path, logs_dir: Path, mariadb: MariaDB
) -> None:
    ensure_topics(settings)
    args = (
        "--format",
        "asterisk-db",
        "--dsn",
        mariadb.dsn,
        "--mapping",
        str(MAPPINGS / "asterisk.yaml"),
        "--cursor",
        str(logs_dir / "asterisk.cursor.json"),
    )
    t0 = int(time.time()) - 900
    day = business_day(settings, t0)
    linked = f"{t0}.201"

    def leg(
        seq: int,
        channel: str,
        dst_channel: str,
        answer: int | None,
        end: int,
        disposition: str,
        uniqueid: str,
    ) -> tuple:
        return (
            "1001",
            "13600000201",
            '"Zhou, Lei" <1001>',
            channel,
            dst_channel,
            "PJSIP/13600000201@trunk,30",
            _local(settings, t0),
            _local(settings, answer) if answer else None,
            _local(settings, end),
            end - t0,
            end - answer if answer else 0,
            disposition,
            uniqueid,
            linked,
            seq,
        )

    with (
        running_worker(settings, worker_log),
        running_ingest(settings, logs_dir / "ingest-asterisk-db.log", *args, env=FAST),
    ):
        mariadb.execute(
            CDR_ROW,
            [leg(1, "PJSIP/1001-00000201", "PJSIP/trunk-00000202", None, t0 + 20, "NO ANSWER", linked)],
        )
        settle(settings, day, [row(day, "1001", "north", 1)], "the first leg's call")
        mariadb.execute(
            CDR_ROW,
            [
                leg(
                    2,
                    "PJSIP/1001-00000203",
                    "PJSIP/trunk-00000204",
                    t0 + 25,
                    t0 + 85,
                    "ANSWERED",
                    f"{t0}.203",
                )
            ],
        )
        settle(
            settings, day, [row(day, "1001", "north", 1, 1, 1, 60)], "the answered leg to correct its call"
        )
        busy = t0 + 300
        mariadb.execute(
            CDR_ROW,
            [
                (
                    "1002",
                    "13600000301",
                    '"Qian, Yu" <1002>',
                    "PJSIP/1002-00000301",
                    "PJSIP/trunk-00000302",
                    "PJSIP/13600000301@trunk,30",
                    _local(settings, busy),
                    None,
                    _local(settings, busy + 4),
                    4,
                    0,
                    "BUSY",
                    f"{busy}.301",
                    f"{busy}.301",
                    3,
                )
            ],
        )
        expected = [row(day, "1001", "north", 1, 1, 1, 60), row(day, "1002", "north", 1)]
        settle(settings, day, expected, "the busy call")


def test_a_wrong_password_stops_the_feed_with_what_the_server_said(
    settings: Settings, mariadb: MariaDB
) -> None:
    ensure_topics(settings)
    wrong = "not-the-Pw-7"
    argv = callfloor_command("ingest", "--format", "vicidial-db", "--dsn", mariadb.dsn.replace("callfloor@",
                             f"callfloor:{wrong}@"))  # fmt: skip
    done = subprocess.run(argv, env={**settings.to_env(), "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Access denied" in done.stderr and "Traceback" not in done.stderr and wrong not in done.stderr


def test_a_dsn_password_never_shows_in_what_the_feed_prints(
    settings: Settings, mariadb: MariaDB, logs_dir: Path, tmp_path: Path
) -> None:
    """A password in ``--dsn`` (URL-encoded, as live-feeds.md says) is never printed: not in
    the start line, a wait for an unreachable server, a refused login or a bad DSN. One with
    a character outside Latin-1 stopped the feed with pymysql's codec error naming that
    character and its position in the password; it is now sent as UTF-8, as MariaDB stores it."""
    secret = "Pw-龘-Zq7"
    with mariadb.connect(root=True) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE USER 'utf8reader'@'127.0.0.1' IDENTIFIED BY %s", (secret,))
        cursor.execute(f"GRANT SELECT ON {mariadb.database}.* TO 'utf8reader'@'127.0.0.1'")

    def dsn(password: str, port: int = mariadb.port) -> str:
        return f"mysql://utf8reader:{quote(password, safe='')}@127.0.0.1:{port}/{mariadb.database}"

    def shown(text: str) -> list[str]:
        pieces = ("Pw-", "龘", "\\u9f98", "%E9%BE%98", "%e9%be%98", "Zq7")
        return [piece for piece in pieces if piece in text]

    args = ("--format", "vicidial-db", "--dry-run", "--cursor", str(tmp_path / "utf8.cursor.json"))
    right = logs_dir / "ingest-dsn-password.log"
    with running_ingest(settings, right, *args, "--dsn", dsn(secret), env=FAST) as feed:
        wait_for(lambda: "reading vicidial_log" in right.read_text(), 60, f"the feed to start ({right})")
        time.sleep(3)  # several polls
        assert feed.poll() is None, right.read_text()
    said = right.read_text()
    assert "unreachable" not in said and "Access denied" not in said and "OK:" in said, said
    assert shown(said) == [], said

    away = logs_dir / "ingest-dsn-away.log"
    with running_ingest(settings, away, *args, "--dsn", dsn(secret, free_port()), env=FAST):
        wait_for(lambda: "unreachable" in away.read_text(), 60, f"the feed to wait ({away})")
    assert shown(away.read_text()) == [], away.read_text()

    for text in (dsn(secret + "-wrong"), dsn(secret).replace("127.0.0.1", "[::1")):
        env = {**settings.to_env(), "PATH": "/usr/bin:/bin"}
        done = subprocess.run(callfloor_command("ingest", *args, "--dsn", text), capture_output=True,
                              text=True, env=env, timeout=60)  # fmt: skip
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert shown(done.stderr + done.stdout) == [], done.stderr
