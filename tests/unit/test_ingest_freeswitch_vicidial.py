"""FreeSWITCH mod_json_cdr documents and VICIdial vicidial_log exports mapped to CDR v1."""

from __future__ import annotations

from pathlib import Path

import orjson

from ingest.records import tsv_records
from ingest.sources import LineFeed
from ingest.vicidial import VicidialCsvAdapter
from tests.unit.ingest_helpers import SAMPLES, ingest, run

FS_A = "fs-3f1e2d4c-0a6b-4b1e-9d2f-000000000001"


def test_freeswitch_b_leg_folds_into_its_a_leg() -> None:
    sink = ingest("freeswitch-json", SAMPLES / "freeswitch")
    calls = sink.by_call_id()
    assert set(calls) == {
        FS_A,
        "fs-3f1e2d4c-0a6b-4b1e-9d2f-000000000003",
        "fs-3f1e2d4c-0a6b-4b1e-9d2f-000000000004",
    }
    bridged = calls[FS_A]
    assert (bridged["rep_id"], bridged["team_id"], bridged["talk_seconds"]) == ("2001", "east", 70)
    assert bridged["version"] == 26  # two legs, answered
    assert bridged["answered_at"] == "2026-11-02T13:00:06+08:00" and bridged["amd"] == "human"
    assert sink.letters == []


def test_freeswitch_unanswered_leg_takes_its_hangup_cause() -> None:
    calls = ingest("freeswitch-json", SAMPLES / "freeswitch").by_call_id()
    busy = calls["fs-3f1e2d4c-0a6b-4b1e-9d2f-000000000003"]
    assert (busy["disposition"], busy["answered_at"], busy["talk_seconds"]) == ("busy", None, 0)


def test_freeswitch_url_encoded_stamps_without_epochs_read_in_the_zone() -> None:
    machine = ingest("freeswitch-json", SAMPLES / "freeswitch").by_call_id()[
        "fs-3f1e2d4c-0a6b-4b1e-9d2f-000000000004"
    ]
    assert machine["dialed_at"] == "2026-11-02T13:20:00+08:00" and machine["amd"] == "machine"


def test_freeswitch_unknown_hangup_cause_and_a_non_cdr_document_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "cdrs.jsonl").write_text(
        '{"variables": {"uuid": "u1", "start_epoch": "1762059600", "answer_epoch": "0",'
        ' "end_epoch": "1762059601", "billsec": "0", "hangup_cause": "SOMETHING_NEW", "rep_id": "9"}}\n'
        '{"hello": "world"}\n'
        "[1, 2]\n"
    )
    sink = ingest("freeswitch-json", tmp_path / "cdrs.jsonl")
    assert [h["reason"] for _, _, h in sink.letters] == [
        "unknown_status",
        "missing_field",
        "unreadable_record",
    ]
    assert [h["source_line"] for _, _, h in sink.letters] == ["1", "2", "3"]


def test_vicidial_statuses_map_to_disposition_amd_and_outcome() -> None:
    sink = ingest("vicidial-csv", SAMPLES / "vicidial" / "vicidial_log.csv", "vicidial.yaml")
    calls = sink.by_call_id()
    got = {cid: (c["disposition"], c["amd"], c["outcome"]) for cid, c in calls.items()}
    assert got == {
        "vd-1762059600.101": ("answered", "human", "sale"),
        "vd-1762059610.102": ("no_answer", None, None),
        "vd-1762059620.103": ("abandoned", "human", None),
        "vd-1762059630.104": ("voicemail", "machine", None),
        "vd-1762059640.105": ("answered", "human", "dnc"),
        "vd-1762059650.106": ("busy", None, None),
        "vd-1762059680.109": ("answered", "human", "not_interested"),
    }
    sale = calls["vd-1762059600.101"]
    assert (sale["sale_amount"], sale["talk_seconds"], sale["rep_id"], sale["team_id"]) == (
        "199.00",
        300,
        "3001",
        "WEST",
    )
    assert calls["vd-1762059610.102"]["team_id"] == "unassigned"
    assert [(h["reason"], h["source_line"]) for _, _, h in sink.letters] == [
        ("not_final", "8"),
        ("unknown_status", "9"),
    ]


def test_vicidial_status_table_is_overridable(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text(
        "statuses:\n  XYZ: {disposition: answered, amd: human, outcome: callback}\n"
    )
    calls = ingest(
        "vicidial-csv", SAMPLES / "vicidial" / "vicidial_log.csv", tmp_path / "map.yaml"
    ).by_call_id()
    assert calls["vd-1762059670.108"]["outcome"] == "callback"
    assert (
        calls["vd-1762059600.101"]["sale_amount"] == "0.00"
    )  # no sale_amount rule: the sale counts, no revenue


def test_vicidial_without_header_reads_vicidial_log_column_order(tmp_path: Path) -> None:
    rows = (SAMPLES / "vicidial" / "vicidial_log.csv").read_text().splitlines(keepends=True)[1:3]
    (tmp_path / "noheader.csv").write_text("".join(rows))
    assert set(ingest("vicidial-csv", tmp_path / "noheader.csv").by_call_id()) == {
        "vd-1762059600.101", "vd-1762059610.102"}  # fmt: skip


def test_vicidial_mysql_batch_output_is_read_as_it_comes() -> None:
    # mysql --batch: tabs between values, \t \n \\ escaped inside them, commas as data, NULL for NULL
    tsv = (SAMPLES / "vicidial" / "vicidial_log.tsv").read_bytes()
    mapping = str(SAMPLES / "mappings" / "vicidial.yaml")
    done = run("--format", "vicidial-csv", "--mapping", mapping, "--dry-run", "--no-progress", "-", stdin=tsv)
    assert done.returncode == 0, done.stderr
    cdrs = {c["call_id"]: c for c in map(orjson.loads, done.stdout.splitlines())}
    assert b"3 records" in done.stderr and b"0 rejected" in done.stderr
    sale = cdrs["vd-1793768400.701"]
    assert (sale["rep_id"], sale["team_id"], sale["outcome"], sale["sale_amount"]) == (
        "3001",
        "WEST",
        "sale",
        "299.00",
    )
    assert sale["dialed_at"] == "2026-11-04T13:00:00+08:00" and sale["talk_seconds"] == 120
    vdad = cdrs["vd-1793768410.702"]
    assert (vdad["rep_id"], vdad["team_id"], vdad["disposition"]) == ("VDAD", "unassigned", "no_answer")
    assert cdrs["vd-1793768420.703"]["outcome"] == "not_interested"


def test_mysql_escapes_and_nulls_become_the_values_they_stand_for() -> None:
    lines = [(1, b"uniqueid\tstatus\tcomments\tuser_group\n"),
             (2, b"1.1\tSALE\ta\\tb\\nc\\\\d, e\tNULL\n"), (3, b"1.2\tNA\t\\N\t\n")]  # fmt: skip
    feed = LineFeed(lines)
    records = list(tsv_records(feed, feed, "-", VicidialCsvAdapter._layout))
    assert [(r.line, r.fields["comments"], r.fields["user_group"]) for r in records] == [
        (2, "a\tb\nc\\d, e", ""),
        (3, "", ""),
    ]


HOLD = SAMPLES / "freeswitch-hold"
HELD_CALL = "fs-3f1e2d4c-0a6b-4b1e-9d2f-000000000011"


def test_talk_time_counts_hold_by_default_and_leaves_it_out_when_the_mapping_says(tmp_path: Path) -> None:
    # billsec 300 of which hold_accum_seconds 120
    cdr = ingest("freeswitch-json", HOLD).by_call_id()[HELD_CALL]
    assert (cdr["talk_seconds"], cdr["answered_at"]) == (300, "2026-11-04T14:00:05+08:00")
    (tmp_path / "map.yaml").write_text("talk_includes_hold: false\n")
    cdr = ingest("freeswitch-json", HOLD, tmp_path / "map.yaml").by_call_id()[HELD_CALL]
    assert (cdr["talk_seconds"], cdr["answered_at"]) == (180, "2026-11-04T14:02:05+08:00")
    assert cdr["ended_at"] == "2026-11-04T14:05:05+08:00"


def test_leaving_hold_out_of_a_format_without_hold_times_is_a_mapping_error(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text("talk_includes_hold: false\n")
    done = run("--format", "vicidial-csv", "--mapping", str(tmp_path / "map.yaml"), "--dry-run", "-")
    assert done.returncode == 2 and b"vicidial-csv records carry no hold time" in done.stderr


BRIDGE = SAMPLES / "freeswitch-bridge"
FS_BRIDGE = "fs-5c0b2a1e-7d3f-4e2a-8b6c-20000000"


def test_a_leg_the_switch_answered_with_nobody_bridged_is_no_connect() -> None:
    # an IVR answered, played a message for 25 s and the caller hung up: billsec 25, bridge_epoch 0
    calls = ingest("freeswitch-json", BRIDGE).by_call_id()
    ivr = calls[FS_BRIDGE + "0021"]
    assert (ivr["disposition"], ivr["answered_at"], ivr["talk_seconds"]) == ("no_answer", None, 0)
    assert ivr["ended_at"] == "2026-11-05T09:00:28+08:00"


def test_a_bridged_call_counts_once_with_its_talk() -> None:
    bridged = ingest("freeswitch-json", BRIDGE).by_call_id()[FS_BRIDGE + "0022"]
    assert (bridged["disposition"], bridged["talk_seconds"], bridged["version"]) == ("answered", 60, 26)
    assert bridged["answered_at"] == "2026-11-05T09:05:07+08:00"


def test_a_call_bridged_after_an_ivr_is_answered_at_the_bridge() -> None:
    # the switch answered at 09:10:01 (billsec 90), bridged to rep 2202 at 09:10:31: 60 s of talk
    call = ingest("freeswitch-json", BRIDGE).by_call_id()[FS_BRIDGE + "0024"]
    assert (call["rep_id"], call["answered_at"], call["talk_seconds"]) == (
        "2202",
        "2026-11-05T09:10:31+08:00",
        60,
    )
    assert call["dialed_at"] == "2026-11-05T09:10:00+08:00" and call["version"] == 26


def test_answered_legs_without_bridge_variables_cannot_tell_and_count(tmp_path: Path) -> None:
    # older FreeSWITCH wrote no bridge_epoch: the answer counts, as it always did;
    # bridge_epoch 0 but last_bridge_to set (the bridge was recorded on the other leg): it counts
    base = {"uuid": "u1", "start_epoch": "1793840400", "answer_epoch": "1793840405",
            "end_epoch": "1793840465", "billsec": "60", "hangup_cause": "NORMAL_CLEARING",
            "rep_id": "9"}  # fmt: skip
    documents = [base, {**base, "uuid": "u2", "bridge_epoch": "0", "last_bridge_to": "u3"},
                 {**base, "uuid": "u4", "bridge_epoch": "0"}]  # fmt: skip
    (tmp_path / "legs.jsonl").write_bytes(b"".join(orjson.dumps({"variables": d}) + b"\n" for d in documents))
    calls = ingest("freeswitch-json", tmp_path / "legs.jsonl").by_call_id()
    assert {cid: c["talk_seconds"] for cid, c in calls.items()} == {"fs-u1": 60, "fs-u2": 60, "fs-u4": 0}
