"""Which leg of an Asterisk call counts: a PBX-answered hangup leg is no connect, a
``Local/...;2`` helper leg gives no identity, and the inbound mapping finds the answering rep."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.ingest_helpers import SAMPLES, ingest

ROOT = Path(__file__).resolve().parents[2]
INBOUND = ROOT / "deploy" / "ingest" / "asterisk-inbound.example.yaml"
OUTBOUND = ROOT / "deploy" / "ingest" / "asterisk-outbound.example.yaml"
INBOUND_CSV = SAMPLES / "asterisk-inbound" / "Master.csv"


@pytest.mark.parametrize("mapping", [None, INBOUND])
def test_a_call_the_pbx_answered_after_both_reps_missed_it_is_not_answered(mapping: Path | None) -> None:
    # both reps' legs NO ANSWER after 60 s, then the caller's row ANSWERED, billsec 0, no dstchannel
    calls = ingest("asterisk-csv", INBOUND_CSV, mapping).by_call_id()
    missed = calls["ast-1793758200.210"]
    assert (missed["disposition"], missed["answered_at"], missed["talk_seconds"]) == ("no_answer", None, 0)
    assert missed["ended_at"] == "2026-11-04T10:11:00+08:00"
    answered = calls["ast-1793757600.201"]  # parallel ringing, the second rep answered: still a connect
    assert (answered["disposition"], answered["talk_seconds"]) == ("answered", 120)


def test_a_pbx_answered_row_with_talk_but_no_bridged_party_is_no_connect(tmp_path: Path) -> None:
    # an IVR that played a 20 s message: ANSWERED, billsec 20, nobody bridged
    row = (
        '"","139","400","ivr","c","SIP/211474-1","","Playback","closed","2026-11-04 10:00:00",'
        '"2026-11-04 10:00:01","2026-11-04 10:00:21","21","20","ANSWERED","DOCUMENTATION","ivr-1",""\n'
    )
    (tmp_path / "Master.csv").write_text(row)
    cdr = ingest("asterisk-csv", tmp_path / "Master.csv").by_call_id()["ast-ivr-1"]
    assert (cdr["disposition"], cdr["talk_seconds"], cdr["answered_at"]) == ("no_answer", 0, None)


def test_inbound_mapping_takes_the_rep_who_answered_not_the_carrier_trunk() -> None:
    calls = ingest("asterisk-csv", INBOUND_CSV, INBOUND).by_call_id()
    assert {c["call_id"]: (c["rep_id"], c["direction"]) for c in calls.values()} == {
        "ast-1793757600.201": ("1002", "inbound"),  # 1001 rang, 1002 answered
        "ast-1793758200.210": ("1001", "inbound"),  # nobody answered: the first rep it rang
        "ast-1793758800.220": ("1001", "inbound"),
    }
    # the built-in (outbound) rules read the caller's channel: on inbound, the carrier trunk
    trunk = ingest("asterisk-csv", INBOUND_CSV).by_call_id()
    assert {c["rep_id"] for c in trunk.values()} == {"211474", "211553"}


def test_outbound_mapping_reads_the_reps_phone() -> None:
    calls = ingest("asterisk-csv", SAMPLES / "asterisk" / "Master.csv", OUTBOUND).by_call_id()
    assert {c["rep_id"] for c in calls.values()} == {"1001", "1002"}
    assert {c["direction"] for c in calls.values()} == {"outbound"}


@pytest.mark.parametrize("name", ["fanout.csv", "fanout-reversed.csv"])
def test_a_local_helper_leg_gives_neither_rep_nor_campaign_in_either_row_order(name: str) -> None:
    calls = ingest("asterisk-csv", SAMPLES / "asterisk-local" / name).by_call_id()
    cdr = calls["ast-1793761200.301"]
    assert (cdr["rep_id"], cdr["campaign_id"], cdr["disposition"]) == ("1003", "stadion-pstn", "no_answer")


def test_no_identity_names_every_rule_it_tried(tmp_path: Path) -> None:
    rules = "rep:\n  - accountcode\n  - {field: dstchannel, pattern: '^SIP/(\\d+)-'}\n"
    (tmp_path / "map.yaml").write_text(rules)
    (tmp_path / "Master.csv").write_text(
        '"","139","400","in","c","SIP/211474-1","","Hangup","","2026-11-04 10:00:00","",'
        '"2026-11-04 10:00:09","9","0","NO ANSWER","DOCUMENTATION","nobody-1",""\n'
    )
    sink = ingest("asterisk-csv", tmp_path / "Master.csv", tmp_path / "map.yaml")
    [(_, _, headers)] = sink.letters
    assert headers["reason"] == "no_identity"
    assert "rep_id" in headers["detail"] and "accountcode" in headers["detail"]
    assert "dstchannel ~ '^SIP/(\\d+)-'" in headers["detail"] and "line 1" in headers["detail"]
