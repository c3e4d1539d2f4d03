"""Asterisk Master.csv (both layouts, cdr_custom, BOM/CRLF) and JSON lines mapped to CDR v1."""

from __future__ import annotations

from pathlib import Path

from tests.unit.ingest_helpers import SAMPLES, MemorySink, ingest

MAPPING = "asterisk.yaml"


def test_sample_folder_maps_every_call_once_with_its_answered_leg() -> None:
    sink = ingest("asterisk-csv", SAMPLES / "asterisk", MAPPING)
    calls = sink.by_call_id()
    assert len(sink.calls) == len(calls) == 9
    parallel = calls["ast-1762045800.5"]  # two rows share uniqueid; trunk2 answered
    assert (parallel["version"], parallel["disposition"], parallel["talk_seconds"]) == (26, "answered", 20)
    assert parallel["answered_at"] == "2026-11-02T09:10:08+08:00"
    local = calls["ast-1762048800.16"]  # Local;1 and Local;2 rows share linkedid
    assert (local["rep_id"], local["team_id"], local["talk_seconds"]) == ("1003", "south", 60)
    assert local["version"] == 26
    assert calls["ast-1762049100.19"]["disposition"] == "no_answer"
    machine = calls["ast-1762047000.10"]
    assert (machine["disposition"], machine["amd"]) == ("answered", "machine")


def test_quotes_and_commas_in_clid_do_not_shift_columns() -> None:
    calls = ingest("asterisk-csv", SAMPLES / "asterisk" / "Master.csv", MAPPING).by_call_id()
    first = calls["ast-1762045200.1"]
    assert (first["rep_id"], first["campaign_id"], first["talk_seconds"]) == ("1001", "solar", 95)


def test_unanswered_rows_have_no_answer_time_whether_answer_is_empty_or_equals_start() -> None:
    calls = ingest("asterisk-csv", SAMPLES / "asterisk" / "Master.csv", MAPPING).by_call_id()
    empty = calls["ast-1762045500.3"]
    assert (empty["answered_at"], empty["talk_seconds"], empty["ended_at"]) == (
        None, 0, "2026-11-02T09:05:30+08:00")  # fmt: skip
    assert calls["ast-1762046400.8"]["disposition"] == "busy"


def test_byte_order_mark_and_windows_line_ends() -> None:
    calls = ingest("asterisk-csv", SAMPLES / "asterisk" / "windows-bom.csv", MAPPING).by_call_id()
    assert set(calls) == {"ast-1762052400.32", "ast-1762053000.34"}
    assert calls["ast-1762052400.32"]["talk_seconds"] == 45
    assert calls["ast-1762053000.34"]["disposition"] == "failed"


def test_unknown_disposition_goes_to_the_dlq_with_file_line_and_reason() -> None:
    sink = ingest("asterisk-csv", SAMPLES / "asterisk" / "Master.csv", MAPPING)
    assert len(sink.letters) == 1
    _, value, headers = sink.letters[0]
    assert headers["reason"] == "unknown_status" and headers["source_line"] == "7"
    assert headers["source_file"].endswith("Master.csv") and headers["source_format"] == "asterisk-csv"
    assert b'"WEIRD"' in value and "WEIRD" in headers["detail"]


def test_importing_twice_gives_the_same_messages() -> None:
    first = ingest("asterisk-csv", SAMPLES / "asterisk", MAPPING).calls
    assert ingest("asterisk-csv", SAMPLES / "asterisk", MAPPING).calls == first


def test_rotated_file_overlap_counts_once() -> None:
    sink = ingest("asterisk-csv", SAMPLES / "asterisk-rotated", MAPPING)
    assert len(sink.calls) == 3 and len(sink.by_call_id()) == 3


def test_a_leg_arriving_after_its_call_was_sent_corrects_it_with_a_higher_version(tmp_path: Path) -> None:
    source = (SAMPLES / "asterisk" / "Master.csv").read_text().splitlines(keepends=True)
    answered_leg = source.pop(3)  # the ANSWERED leg of the parallel-ringing call
    (tmp_path / "late.csv").write_text("".join(source) + answered_leg)
    sink = ingest("asterisk-csv", tmp_path / "late.csv", MAPPING, window=1)
    versions = [cdr["version"] for _, cdr in sink.calls if cdr["call_id"] == "ast-1762045800.5"]
    assert versions == [12, 26]  # 1 leg no_answer (rank 2), then 2 legs answered (rank 6)
    assert sink.by_call_id()["ast-1762045800.5"]["disposition"] == "answered"


def test_cdr_custom_columns_from_the_mapping(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text(
        "columns: [clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, start, answer, end,"
        " duration, billsec, disposition, amaflags, accountcode, uniqueid, userfield]\n"
        "team: {value: floor1}\ncampaign: {value: default}\n"
    )
    (tmp_path / "Master.csv").write_text(
        '"""Ma"" <7>","7","139","out","SIP/7-01","SIP/t-02","Dial","SIP/t/139","2026-11-02 09:00:00",'
        '"2026-11-02 09:00:03","2026-11-02 09:00:43","43","40","ANSWERED","DOCUMENTATION","7","u-1",""\n'
    )
    calls = ingest("asterisk-csv", tmp_path / "Master.csv", tmp_path / "map.yaml").by_call_id()
    assert calls["ast-u-1"]["rep_id"] == "7" and calls["ast-u-1"]["talk_seconds"] == 40


def test_a_row_of_the_wrong_width_among_good_rows_is_unreadable(tmp_path: Path) -> None:
    good = (SAMPLES / "asterisk" / "Master.csv").read_text().splitlines(keepends=True)[:2]
    (tmp_path / "short.csv").write_text("".join(good) + '"a","b","c"\n')
    sink = ingest("asterisk-csv", tmp_path / "short.csv")
    assert [(h["reason"], h["source_line"]) for _, _, h in sink.letters] == [("unreadable_record", "3")]
    assert len(sink.calls) == 2


def test_a_talk_time_that_disagrees_with_answer_and_end_is_the_schemas_reject(tmp_path: Path) -> None:
    row = ('"1","1","2","out","c","SIP/1-1","SIP/t-2","Dial","x","2026-11-02 09:00:00","2026-11-02 09:00:05",'
           '"2026-11-02 09:00:15","15","90","ANSWERED","DOCUMENTATION","u-9",""\n')  # fmt: skip
    (tmp_path / "m.csv").write_text(row)
    sink = ingest("asterisk-csv", tmp_path / "m.csv")
    assert sink.calls == [] and sink.letters[0][2]["reason"] == "talk_mismatch"


def test_json_lines_use_the_same_names(tmp_path: Path) -> None:
    sink: MemorySink = ingest("asterisk-json", SAMPLES / "asterisk-json", MAPPING)
    calls = sink.by_call_id()
    assert calls["ast-1762056000.48"]["talk_seconds"] == 40
    assert calls["ast-1762056600.50"]["disposition"] == "congestion"
    assert [h["reason"] for _, _, h in sink.letters] == ["bad_number"]


def test_a_call_split_across_two_imports_keeps_its_answered_leg(tmp_path: Path) -> None:
    rows = (SAMPLES / "asterisk" / "Master.csv").read_text().splitlines(keepends=True)
    (tmp_path / "Master.csv.1").write_text(rows[2])  # the parallel call's unanswered leg
    (tmp_path / "Master.csv").write_text(rows[3])  # its answered leg, after the rotation
    for order in (["Master.csv.1", "Master.csv"], ["Master.csv", "Master.csv.1"]):
        sink = MemorySink()
        for name in order:
            ingest("asterisk-csv", tmp_path / name, MAPPING, sink=sink)
        kept = sink.by_call_id()["ast-1762045800.5"]
        assert (kept["disposition"], kept["talk_seconds"]) == ("answered", 20), order


def test_outcome_and_sale_amount_from_userfield_on_answered_calls(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text(
        "team: {value: t}\ncampaign: {value: c}\n"
        "outcome: {field: userfield, pattern: 'outcome=(\\w+)'}\n"
        "sale_amount: {field: userfield, pattern: 'amount=([\\d.]+)'}\n"
    )
    rows = [
        ("u-1", "ANSWERED", "2026-11-02 09:00:05", 30, "outcome=SALE;amount=199.50"),
        ("u-2", "ANSWERED", "2026-11-02 09:00:05", 30, "outcome=callback"),
        ("u-3", "NO ANSWER", "", 0, "outcome=sale;amount=5"),
        ("u-4", "ANSWERED", "2026-11-02 09:00:05", 30, "outcome=maybe"),
    ]
    (tmp_path / "Master.csv").write_text("".join(
        f'"7","7","1","out","c","SIP/7-1","SIP/t-2","Dial","x","2026-11-02 09:00:00","{answer}",'
        f'"2026-11-02 09:00:35","35","{talk}","{status}","DOCUMENTATION","{uid}","{userfield}"\n'
        for uid, status, answer, talk, userfield in rows
    ))  # fmt: skip
    sink = ingest("asterisk-csv", tmp_path / "Master.csv", tmp_path / "map.yaml")
    calls = sink.by_call_id()
    assert (calls["ast-u-1"]["outcome"], calls["ast-u-1"]["sale_amount"]) == ("sale", "199.50")
    assert (calls["ast-u-2"]["outcome"], calls["ast-u-2"]["sale_amount"]) == ("callback", None)
    assert (calls["ast-u-3"]["outcome"], calls["ast-u-3"]["sale_amount"]) == (None, None)
    assert [(h["reason"], h["source_line"]) for _, _, h in sink.letters] == [("unknown_status", "4")]


def test_a_row_cut_short_does_not_swallow_the_next_one(tmp_path: Path) -> None:
    rows = (SAMPLES / "asterisk" / "Master.csv").read_text().splitlines(keepends=True)
    (tmp_path / "cut.csv").write_text(rows[0][:60] + "\n" + "".join(rows[1:3]))  # an open quote on line 1
    sink = ingest("asterisk-csv", tmp_path / "cut.csv", MAPPING)
    assert [(h["reason"], h["source_line"]) for _, _, h in sink.letters] == [("unreadable_record", "1")]
    assert set(sink.by_call_id()) == {"ast-1762045500.3", "ast-1762045800.5"}


def test_calls_are_keyed_by_the_rep_as_the_worker_counts_it(tmp_path: Path) -> None:
    """A full-width rep id (a CJK input method) is NFKC-normalised by the worker; keyed raw,
    that rep's calls would land on another partition than its plain-typed ones."""
    first = (SAMPLES / "asterisk" / "Master.csv").read_text().splitlines(keepends=True)[0]
    typed = first.replace('"SIP/1001-00000001"', '"SIP/\uff11\uff10\uff10\uff11-00000001"')
    assert typed != first
    (tmp_path / "wide.csv").write_text(typed)
    sink = ingest("asterisk-csv", tmp_path / "wide.csv", MAPPING)
    [(key, cdr)] = sink.calls
    assert key == "1001" and cdr["rep_id"] == "\uff11\uff10\uff10\uff11"
