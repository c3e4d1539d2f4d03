"""End to end: ``callfloor ingest`` of every sample into the real broker, the real worker and
the real ClickHouse engine; ``callfloor report`` then shows exactly what the samples contain
(counted by hand below), and importing everything a second time changes nothing.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import orjson
import pytest

from deploy.local.processes import callfloor_command
from schemas.settings import Settings
from streams.topics import ensure_topics
from tests.support.cli import report
from tests.support.kafka import lag, read_topic
from tests.support.processes import running_worker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "ingest"
MAPPINGS = SAMPLES / "mappings"
IMPORTS = [
    ("asterisk-csv", SAMPLES / "asterisk", MAPPINGS / "asterisk.yaml"),
    ("asterisk-csv", SAMPLES / "asterisk-rotated", MAPPINGS / "asterisk.yaml"),
    ("asterisk-json", SAMPLES / "asterisk-json" / "cdr.jsonl", MAPPINGS / "asterisk.yaml"),
    ("freeswitch-json", SAMPLES / "freeswitch", None),
    ("vicidial-csv", SAMPLES / "vicidial" / "vicidial_log.csv", MAPPINGS / "vicidial.yaml"),
]
# per import: Master.csv WEIRD, cdr.jsonl billsec "thirty", vicidial INCALL and XYZ
REJECTS_PER_IMPORT = Counter({"unknown_status": 2, "bad_number": 1, "not_final": 1})


def row(day: str, rep: str, team: str, dials: int, connects: int = 0, valid: int = 0, talk: int = 0,
        sales: int = 0, revenue: str = "0.00", abandoned: int = 0) -> dict[str, object]:  # fmt: skip
    """One report row; every sample call is outbound, so the outbound counters equal the others."""
    return {"business_day": day, "rep_id": rep, "team_id": team, "dials": dials, "connects": connects,
            "valid_connects": valid, "talk_seconds": talk, "wrap_seconds": 0, "sales": sales,
            "revenue": revenue, "new_customers": 0, "abandoned": abandoned,
            "outbound_connects": connects, "outbound_talk_seconds": talk}  # fmt: skip


D2, D3 = "2026-11-02", "2026-11-03"
EXPECTED = sorted([
    row(D2, "1001", "north", 3, 1, 1, 95),  # answered 95 s; no answer; answered by a machine
    row(D2, "1002", "north", 2, 1, 0, 20),  # parallel ringing (2 legs, one call, 20 s); busy
    row(D2, "1003", "south", 2, 1, 1, 60),  # Local channel pair (linkedid); Local no answer
    row(D2, "1004", "south", 2, 1, 1, 45),  # BOM + CRLF file: answered 45 s; failed
    row(D2, "1005", "south", 2, 1, 1, 40),  # JSON lines: answered 40 s; congestion
    row(D2, "2001", "east", 2, 1, 1, 70),  # FreeSWITCH A+B legs, 70 s; USER_BUSY
    row(D2, "2002", "east", 1),  # FreeSWITCH answered by a machine
    row(D2, "3001", "WEST", 2, 2, 1, 315, 1, "199.00"),  # VICIdial SALE 300 s; DNC 15 s
    row(D2, "3002", "WEST", 1, 1, 1, 45),  # VICIdial NI 45 s
    row(D2, "VDAD", "unassigned", 4, abandoned=1),  # VICIdial NA, DROP, AA, B
    row(D3, "1001", "north", 2, 1, 1, 35),  # rotated pair: answered 35 s; no answer (in both files)
    row(D3, "1002", "north", 1, 1, 1, 60),
], key=lambda r: (r["business_day"], r["rep_id"]))  # fmt: skip


def import_samples(settings: Settings) -> None:
    for fmt, target, mapping in IMPORTS:
        argv = callfloor_command("ingest", "--format", fmt, "--no-progress", str(target))
        if mapping is not None:
            argv[-1:-1] = ["--mapping", str(mapping)]
        done = subprocess.run(argv, env={**settings.to_env(), "PATH": "/usr/bin:/bin"}, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "callfloor ingest:" in done.stderr and "calls produced" in done.stderr


def drain(settings: Settings, worker_log: Path) -> None:
    wait_for(lambda: lag(settings.kafka_bootstrap, settings.app_id, settings.cdr_topic) == 0,
               180, f"the worker to commit every offset (log: {worker_log})", every_s=1)  # fmt: skip


def test_imported_samples_report_exactly_and_a_second_import_counts_nothing_twice(
    settings: Settings, worker_log: Path
) -> None:
    # the samples have fixed dates: a horizon of a century keeps this test from expiring
    settings = settings.model_copy(update={"late_horizon_days": 36_500})
    ensure_topics(settings)
    with running_worker(settings, worker_log) as worker:
        import_samples(settings)
        drain(settings, worker_log)
        assert report(settings, D2, D3) == EXPECTED
        import_samples(settings)
        drain(settings, worker_log)
        assert worker.alive(), "the worker must not have exited"
    assert report(settings, D2, D3) == EXPECTED

    letters = read_topic(settings.kafka_bootstrap, settings.dlq_topic)
    headers = [{name: value.decode() for name, value in record.headers} for record in letters]
    assert Counter(h["reason"] for h in headers) == REJECTS_PER_IMPORT + REJECTS_PER_IMPORT
    weird = [h for h in headers if "WEIRD" in h["detail"]]
    assert len(weird) == 2 and all(h["source_line"] == "7" and h["source_file"].endswith("Master.csv")
                                   for h in weird)  # fmt: skip
    assert all(record.value for record in letters), "each dead letter keeps the dialer's record"


def ingest_into(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    argv = callfloor_command("ingest", "--no-progress", *args)
    return subprocess.run(argv, env={**settings.to_env(), "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_an_import_that_stops_sends_nothing_and_the_fixed_command_imports(settings: Settings) -> None:
    ensure_topics(settings)
    custom, utc = SAMPLES / "asterisk-custom" / "Master.csv", SAMPLES / "asterisk-utc" / "Master.csv"
    inbound = Path(__file__).resolve().parents[2] / "deploy" / "ingest" / "asterisk-inbound.example.yaml"
    csv = ("--format", "asterisk-csv")
    stopped = [
        ingest_into(settings, *csv, str(custom)),  # a cdr_custom file without columns:
        ingest_into(settings, *csv, "--timezone", "Asia/Shanghai", str(utc)),  # a usegmtime file
    ]
    assert [done.returncode for done in stopped] == [2, 2], [done.stderr for done in stopped]
    assert "`columns:`" in stopped[0].stderr and "--timezone UTC" in stopped[1].stderr
    assert read_topic(settings.kafka_bootstrap, settings.cdr_topic) == []
    assert read_topic(settings.kafka_bootstrap, settings.dlq_topic) == []

    fixed = [
        ingest_into(settings, *csv, "--mapping", str(MAPPINGS / "asterisk-custom.yaml"), str(custom)),
        ingest_into(settings, *csv, "--timezone", "UTC", str(utc)),
        ingest_into(
            settings, *csv, "--mapping", str(inbound), str(SAMPLES / "asterisk-inbound" / "Master.csv")
        ),
    ]
    assert [done.returncode for done in fixed] == [0, 0, 0], [done.stderr for done in fixed]
    assert all(done.stderr.strip().splitlines()[-1].startswith("callfloor ingest: OK: ") for done in fixed)
    records = read_topic(settings.kafka_bootstrap, settings.cdr_topic)
    cdrs = {cdr["call_id"]: cdr for cdr in (orjson.loads(record.value) for record in records)}
    assert len(cdrs) == 3 + 4 + 3
    assert cdrs["ast-1793757600.501"]["dialed_at"] == "2026-11-04T02:00:00+00:00"
    missed = cdrs["ast-1793758200.210"]  # the PBX answered it after both reps' legs rang out
    assert (missed["disposition"], missed["rep_id"], missed["direction"]) == ("no_answer", "1001", "inbound")


def test_more_rejects_than_allowed_exit_3_with_the_rejects_in_the_dlq(settings: Settings) -> None:
    ensure_topics(settings)
    done = ingest_into(settings, "--format", "asterisk-csv", "--mapping", str(MAPPINGS / "asterisk.yaml"),
                       "--max-rejects", "0", str(SAMPLES / "asterisk"))  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "FAILED" in done.stderr.strip().splitlines()[-1]
    letters = read_topic(settings.kafka_bootstrap, settings.dlq_topic)
    assert [dict(record.headers)["reason"] for record in letters] == [b"unknown_status"]
    assert len(read_topic(settings.kafka_bootstrap, settings.cdr_topic)) == 9
