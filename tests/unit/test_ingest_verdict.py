"""An import says at once whether it was good: it stops (exit 2, nothing sent) on a file in an
unknown layout or in another time zone, reads pretty-printed JSON as JSON, and exits 3 when
more records than ``--max-rejects`` went to the DLQ."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from ingest.mapping import IngestMapping
from ingest.run import IngestJob, run_job
from ingest.verdict import ImportStopped, RejectLimit
from tests.unit.ingest_helpers import SAMPLES, MemorySink, ingest, run

MAPPINGS = SAMPLES / "mappings"
UTC_FILE = SAMPLES / "asterisk-utc" / "Master.csv"
CUSTOM = SAMPLES / "asterisk-custom" / "Master.csv"


def cdrs(stdout: bytes) -> list[dict]:
    return [orjson.loads(line) for line in stdout.splitlines()]


def test_a_utc_master_csv_read_in_the_floor_zone_stops_with_the_zone_to_pass() -> None:
    done = run(
        "--format", "asterisk-csv", "--timezone", "Asia/Shanghai", "--dry-run", "--no-progress", str(UTC_FILE)
    )
    err = done.stderr.decode()
    assert done.returncode == 2 and done.stdout == b"", err
    assert "do not fit --timezone Asia/Shanghai" in err and "4 of 4 rows" in err and "8 h away" in err
    assert "they fit UTC+00:00" in err and "--timezone UTC" in err and "Traceback" not in err


def test_the_same_file_read_in_utc_imports_at_the_right_instants() -> None:
    done = run("--format", "asterisk-csv", "--timezone", "UTC", "--dry-run", "--no-progress", str(UTC_FILE))
    assert done.returncode == 0, done.stderr
    first = cdrs(done.stdout)[0]
    assert first["call_id"] == "ast-1793757600.501" and first["dialed_at"] == "2026-11-04T02:00:00+00:00"


def test_a_file_in_another_named_zone_is_told_which_zones_fit(tmp_path: Path) -> None:
    # the UTC file's texts shifted to New York time (UTC-05:00 in November) and read as Shanghai
    text = UTC_FILE.read_text()
    for hour in ("02", "03"):
        text = text.replace(f"2026-11-04 {hour}:", f"2026-11-03 {int(hour) + 19}:")
    (tmp_path / "Master.csv").write_text(text)
    with pytest.raises(ImportStopped) as stopped:
        ingest("asterisk-csv", tmp_path / "Master.csv")
    assert "they fit UTC-05:00" in str(stopped.value) and "America/" in str(stopped.value)
    assert "Etc/GMT+5" in str(stopped.value)


def test_clock_check_false_in_the_mapping_reads_the_file_as_told(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text("clock_check: false\n")
    sink = ingest("asterisk-csv", UTC_FILE, tmp_path / "map.yaml")
    assert len(sink.calls) == 4 and sink.calls[0][1]["dialed_at"] == "2026-11-04T02:00:00+08:00"


def test_uniqueids_that_are_no_zone_offset_away_say_nothing() -> None:
    # the older samples' uniqueids are a year before their start: no zone explains that
    assert len(ingest("asterisk-csv", SAMPLES / "asterisk", "asterisk.yaml").calls) == 9


def test_a_cdr_custom_file_without_columns_stops_and_says_to_set_columns() -> None:
    done = run("--format", "asterisk-csv", "--dry-run", "--no-progress", str(CUSTOM))
    err = done.stderr.decode()
    assert done.returncode == 2 and done.stdout == b"", err
    assert "3 of the first 3 records are unreadable" in err and "19 columns" in err
    assert "`columns:` in the mapping" in err and "Nothing was sent" in err


def test_nothing_reaches_the_dlq_when_an_import_stops() -> None:
    sink = MemorySink()
    with pytest.raises(ImportStopped):
        ingest("asterisk-csv", CUSTOM, sink=sink)
    assert sink.letters == [] and sink.calls == []


def test_the_same_cdr_custom_file_with_its_columns_imports() -> None:
    calls = ingest("asterisk-csv", CUSTOM, MAPPINGS / "asterisk-custom.yaml").by_call_id()
    assert {c["call_id"]: (c["rep_id"], c["disposition"], c["talk_seconds"]) for c in calls.values()} == {
        "ast-1793757600.401": ("1001", "answered", 60),
        "ast-1793758200.403": ("1001", "no_answer", 0),
        "ast-1793758800.405": ("1002", "busy", 0),
    }
    assert {c["campaign_id"] for c in calls.values()} == {"solar"}


def test_pretty_printed_json_on_stdin_is_read_as_json() -> None:
    freeswitch = b"\n".join(p.read_bytes() for p in sorted((SAMPLES / "freeswitch").glob("*.json")))
    done = run("--format", "freeswitch-json", "--dry-run", "--no-progress", "-", stdin=freeswitch)
    assert done.returncode == 0, done.stderr
    assert len(cdrs(done.stdout)) == 3 and b"0 rejected" in done.stderr  # four legs, three calls
    array = (SAMPLES / "asterisk-json" / "pretty.json").read_bytes()
    done = run("--format", "asterisk-json", "--dry-run", "--no-progress", "-", stdin=array)
    assert done.returncode == 0, done.stderr
    assert [c["call_id"] for c in cdrs(done.stdout)] == ["ast-1793757600.601", "ast-1793758200.603"]


def test_a_bad_document_in_pretty_json_is_rejected_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "cdrs.json").write_text('[\n  {"a": 1},\n  7,\n  {"b":\n')
    sink = MemorySink()
    job_input = tmp_path / "cdrs.json"
    with pytest.raises(ImportStopped):  # three records, all unreadable: the import stops
        ingest("asterisk-json", job_input, sink=sink)
    (tmp_path / "more.jsonl").write_text(
        (SAMPLES / "asterisk-json" / "cdr.jsonl").read_text() + '{"uniqueid": \n'
    )
    sink = ingest("asterisk-json", tmp_path / "more.jsonl")
    assert ("unreadable_record", "4") in [(h["reason"], h["source_line"]) for _, _, h in sink.letters]


def test_a_file_in_no_known_layout_stops_for_every_csv_format(tmp_path: Path) -> None:
    (tmp_path / "export.csv").write_text("".join(f"{n},x,y\n" for n in range(5)))
    for fmt, advice in (("vicidial-csv", "mysql --batch"), ("asterisk-csv", "`columns:`")):
        done = run("--format", fmt, "--dry-run", "--no-progress", str(tmp_path / "export.csv"))
        assert done.returncode == 2 and advice.encode() in done.stderr, done.stderr


def test_more_rejects_than_max_rejects_exits_3_with_a_failed_summary() -> None:
    folder = str(SAMPLES / "asterisk")
    mapping = str(MAPPINGS / "asterisk.yaml")
    done = run("--format", "asterisk-csv", "--mapping", mapping, "--dry-run", "--no-progress",
               "--max-rejects", "0", folder)  # fmt: skip
    summary = done.stderr.decode().strip().splitlines()[-1]
    assert done.returncode == 3
    assert summary.startswith("callfloor ingest: FAILED: 13 records")
    assert summary.endswith("1 rejected to the DLQ (unknown_status 1): more than --max-rejects 0 allows (0)")
    done = run("--format", "asterisk-csv", "--mapping", mapping, "--dry-run", "--no-progress",
               "--max-rejects", "10%", folder)  # fmt: skip
    assert done.returncode == 0 and b"OK: 13 records" in done.stderr  # 1 of 13 is within 10%: 1


def test_everything_rejected_for_a_mapped_reason_is_no_success(tmp_path: Path) -> None:
    (tmp_path / "Master.csv").write_text("".join(
        f'"","7","139","out","c","SIP/7-{n}","SIP/t-{n}","Dial","x","2026-11-02 09:00:0{n}","",'
        f'"2026-11-02 09:00:0{n}","0","0","LOST","DOCUMENTATION","odd-{n}",""\n' for n in range(3)
    ))  # fmt: skip
    done = run("--format", "asterisk-csv", "--dry-run", "--no-progress", str(tmp_path / "Master.csv"))
    assert done.returncode == 3 and b"FAILED: 3 records" in done.stderr


@pytest.mark.parametrize(("text", "records", "allowed"), [("0", 100, 0), ("25", 10, 25), ("2%", 1000, 20),
                                                          ("2.5%", 1000, 25), ("100%", 7, 7)])  # fmt: skip
def test_max_rejects_is_a_count_or_a_percentage(text: str, records: int, allowed: int) -> None:
    assert RejectLimit.parse(text).allowed(records) == allowed


@pytest.mark.parametrize("text", ["-1", "1.5", "101%", "ten", ""])
def test_a_bad_max_rejects_is_a_usage_error(text: str) -> None:
    with pytest.raises(ValueError, match="--max-rejects"):
        RejectLimit.parse(text)
    done = run("--format", "asterisk-csv", "--max-rejects", text, "--dry-run", "-")
    assert done.returncode == 2 and b"--max-rejects" in done.stderr and b"Traceback" not in done.stderr


def test_the_help_names_max_rejects_and_its_default() -> None:
    done = run("--help")
    assert done.returncode == 0 and b"--max-rejects N|P%" in done.stdout and b"(default 50%)" in done.stdout


def test_the_mapping_default_checks_the_clock() -> None:
    assert IngestMapping().clock_check is True


def test_without_probation_rejects_are_sent_as_they_come() -> None:
    sink = MemorySink()
    job = IngestJob(fmt="asterisk-csv", target=str(CUSTOM), mapping=IngestMapping(), zone=ZoneInfo("UTC"),
                    progress=False, probation=0)  # fmt: skip
    run_job(job, sink)
    assert [h["reason"] for _, _, h in sink.letters] == ["unreadable_record"] * 3
