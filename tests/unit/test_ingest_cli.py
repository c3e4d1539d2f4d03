"""``callfloor ingest`` as a user runs it (``--dry-run``: no broker): stdin, progress, errors."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import orjson

from ingest.progress import Progress, not_acknowledged
from tests.unit.ingest_helpers import SAMPLES, run

MAPPING = str(SAMPLES / "mappings" / "asterisk.yaml")


def test_stdin_with_a_byte_order_mark_and_windows_line_ends() -> None:
    done = run("--format", "asterisk-csv", "--mapping", MAPPING, "--dry-run", "-",
               stdin=(SAMPLES / "asterisk" / "windows-bom.csv").read_bytes())  # fmt: skip
    assert done.returncode == 0, done.stderr
    cdrs = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert [c["call_id"] for c in cdrs] == ["ast-1762052400.32", "ast-1762053000.34"]
    assert b"2 records" in done.stderr and b"2 calls produced" in done.stderr


def test_a_file_import_shows_progress_rejects_and_a_summary() -> None:
    done = run("--format", "asterisk-csv", "--mapping", MAPPING, "--dry-run", str(SAMPLES / "asterisk"))
    assert done.returncode == 0
    err = done.stderr.decode()
    assert "ingest:" in err and "rejects=1" in err and "records=" in err and "rate=" in err
    assert "asterisk/Master.csv:7: unknown_status: disposition 'WEIRD'" in err
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("callfloor ingest: OK: 13 records") and "9 calls produced" in summary
    assert "3 extra legs folded" in summary and "1 rejected to the DLQ (unknown_status 1)" in summary
    assert summary.endswith("--max-rejects 50% allows 6")


def test_a_bad_mapping_stops_before_reading_with_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rep: accountcode\ndirection: sideways\n")
    done = run("--format", "asterisk-csv", "--mapping", str(bad), "--dry-run", str(SAMPLES / "asterisk"))
    assert done.returncode == 2 and done.stdout == b""
    assert f"{bad}:2: direction:".encode() in done.stderr and b"Traceback" not in done.stderr


def test_an_unknown_zone_and_a_missing_file_are_clear_errors(tmp_path: Path) -> None:
    done = run("--format", "vicidial-csv", "--timezone", "Mars/Olympus", "--dry-run", str(tmp_path))
    assert done.returncode == 2 and b"unknown IANA time zone 'Mars/Olympus'" in done.stderr
    done = run("--format", "vicidial-csv", "--dry-run", str(tmp_path / "nope.csv"))
    assert done.returncode == 2 and b"nope.csv: no such file or folder" in done.stderr


def test_a_call_across_the_autumn_dst_change_keeps_its_length(tmp_path: Path) -> None:
    # New York, 2026-11-01: 01:50 EDT, clocks go back at 02:00, the call ends at 01:10 EST
    (tmp_path / "Master.csv").write_text(
        '"7","7","139","out","c","SIP/7-1","SIP/t-2","Dial","x","2026-11-01 01:50:00","2026-11-01 01:50:10",'
        '"2026-11-01 01:10:10","1210","1200","ANSWERED","DOCUMENTATION","dst-1",""\n'
    )
    done = run("--format", "asterisk-csv", "--timezone", "America/New_York", "--dry-run", "--no-progress",
               str(tmp_path / "Master.csv"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    cdr = orjson.loads(done.stdout)
    assert cdr["dialed_at"] == "2026-11-01T01:50:00-04:00" and cdr["ended_at"] == "2026-11-01T01:10:10-05:00"
    assert cdr["talk_seconds"] == 1200


def test_the_cli_offers_exactly_the_formats_there_are_adapters_for() -> None:
    from ingest.cli import FORMATS
    from ingest.run import ADAPTERS

    assert tuple(ADAPTERS) == FORMATS


def test_the_summary_says_one_record_and_many_records() -> None:
    """Each outcome is counted in its own words: "1 extra legs" read as a typo."""
    one = Progress(total_bytes=None, enabled=False, out=StringIO())
    one.records = one.calls = 1
    line = one.summary(duplicate_legs=1, collapsed_legs=1)
    assert ": 1 record in " in line, line
    assert "1 call produced; 1 extra leg folded into its call; 1 repeated row skipped; 0 rejected" in line
    many = Progress(total_bytes=None, enabled=False, out=StringIO())
    many.records, many.calls = 3, 2
    line = many.summary(duplicate_legs=0, collapsed_legs=2)
    assert ": 3 records in " in line, line
    assert "2 calls produced; 2 extra legs folded into their calls; 0 repeated rows skipped" in line
    assert "1 record was not acknowledged by Kafka" in not_acknowledged([TimeoutError("gone")])
