"""The pieces of ``--listen`` that need no service: addresses, credentials, POST bodies, legs."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from kafka.future import Future
from pydantic import SecretStr

from ingest.asterisk import AsteriskJsonAdapter
from ingest.clock import LocalClock
from ingest.freeswitch import FreeswitchJsonAdapter
from ingest.leg_journal import LegJournal
from ingest.legs import Leg
from ingest.listen import (
    BASE64_FORM,
    FORM,
    Credentials,
    ListenError,
    documents,
    is_loopback,
    make_app,
    parse_address,
)
from ingest.live import Delivery, LiveMapper, RecentCalls, renamed
from ingest.mapping import IngestMapping, MappingError, load_mapping
from ingest.progress import Progress
from tests.unit.ingest_helpers import MemorySink

NOON = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)


def leg(call_id: str, raw: bytes, line: int = 1) -> Leg:
    return Leg(call_id, "request r1", line, raw, NOON, None, NOON, "no_answer", 0)


@pytest.mark.parametrize(("text", "expected"), [
    ("8088", ("127.0.0.1", 8088)), (":8088", ("127.0.0.1", 8088)), ("0.0.0.0:80", ("0.0.0.0", 80)),
    ("[::1]:9000", ("::1", 9000)),
])  # fmt: skip
def test_addresses_default_to_loopback(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "host:", "host:http", "1.2.3.4:70000", ":0"])
def test_a_bad_address_says_what_is_expected(text: str) -> None:
    with pytest.raises(ListenError, match="HOST:PORT"):
        parse_address(text)


def test_only_loopback_addresses_count_as_this_machine() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5") and not is_loopback("pbx.example")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_credentials_accept_the_right_basic_auth_or_token_only() -> None:
    both = Credentials("fs", SecretStr("pw"), SecretStr("tok"))
    assert both.allow(_basic("fs", "pw")) and both.allow("Bearer tok")
    for wrong in (
        None,
        "",
        _basic("fs", "PW"),
        _basic("other", "pw"),
        "Bearer tok2",
        "Basic !!!",
        "Digest x",
    ):
        assert not both.allow(wrong), wrong
    assert Credentials("", SecretStr(""), SecretStr("")).allow(None), "nothing configured: loopback only"


def test_credentials_never_show_their_secrets() -> None:
    text = repr(Credentials("fs", SecretStr("pw-secret"), SecretStr("tok-secret")))
    assert "pw-secret" not in text and "tok-secret" not in text


DOC = {"variables": {"uuid": "u1", "caller_id_name": "Lin%2C%20Hui", "sip_user_agent": ">>>???~~~"}}


def test_mod_json_cdr_bodies_in_each_encoding_give_the_same_document() -> None:
    raw = orjson.dumps(DOC)
    encoded = base64.b64encode(raw)
    assert b"+" in encoded and b"/" in encoded, "base64 that a URL decoder would spoil"
    bodies = [
        (urlencode({"cdr": raw}).encode(), FORM),  # encode true (the default)
        (b"cdr=" + encoded, BASE64_FORM),  # encode base64: not URL-encoded
        (raw, "application/json"),  # encode false
        (raw, FORM),  # a body that is JSON is JSON
    ]
    for body, content_type in bodies:
        [(position, found, problem)] = documents(body, content_type)
        assert (position, orjson.loads(found), problem) == (1, DOC, None)


def test_an_array_is_one_document_per_element_and_garbage_is_one_problem() -> None:
    found = documents(orjson.dumps([DOC, {"b": 1}]), "application/json")
    assert [(n, orjson.loads(raw), problem) for n, raw, problem in found] == [
        (1, DOC, None),
        (2, {"b": 1}, None),
    ]
    assert documents(b"[]", "application/json") == []
    for body, what in ((b"{oops", "not JSON"), (b"", "empty"), (b"a=1", "without a 'cdr' field"),
                       (b"cdr=%%%", "neither JSON nor base64")):  # fmt: skip
        [(_, _, problem)] = documents(body, FORM if b"=" in body else "application/json")
        assert problem is not None and what in problem


def test_recent_calls_join_legs_and_keep_a_repeated_leg_once() -> None:
    def lines(legs: list[Leg]) -> list[int]:
        return [leg.line for leg in legs]

    calls = RecentCalls(remembered=2)
    assert lines(calls.add(leg("c1", b"a", 1))) == [1]
    assert lines(calls.add(leg("c1", b"b", 2))) == [1, 2]
    assert lines(calls.add(leg("c1", b"a", 3))) == [3, 2], "a retry (same bytes) stays one leg"
    assert lines(calls.add(leg("c1", b"row v2", 4), key="row-1")) == [3, 2, 4]
    assert lines(calls.add(leg("c1", b"row v3", 5), key="row-1")) == [3, 2, 5], (
        "a row's new state replaces it"
    )
    assert all(kept.raw == b"" for kept in calls.add(leg("c1", b"b", 6))), "bytes are not kept"
    calls.add(leg("c2", b"x", 7))
    calls.add(leg("c3", b"y", 8))
    assert lines(calls.add(leg("c1", b"b", 9))) == [9], "forgotten beyond its size"


class HeldSink:
    """A sink whose records Kafka has not acknowledged until the test says so."""

    def __init__(self) -> None:
        self.futures: list[Future] = []

    def call(self, rep_id: str, value: bytes) -> Future:
        self.futures.append(Future())
        return self.futures[-1]

    def dead_letter(self, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> Future:
        return self.call(key, value)

    def flush(self) -> None:
        return None

    def close(self) -> list[BaseException]:
        return []


ANYONE = Credentials("", SecretStr(""), SecretStr(""))


def _app(sink: HeldSink, max_requests: int, credentials: Credentials = ANYONE) -> web.Application:
    mapping = IngestMapping()
    adapter = FreeswitchJsonAdapter(mapping, LocalClock(ZoneInfo("Asia/Shanghai")))
    mapper = LiveMapper(
        adapter, mapping, sink, Progress(total_bytes=None, enabled=False), fmt="freeswitch-json"
    )
    return make_app(mapper, credentials, max_body=4096, max_requests=max_requests)


SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "ingest" / "freeswitch-push" / "a_busy.cdr.json"


def test_the_answer_waits_for_kafka_and_requests_beyond_the_bound_get_503() -> None:
    async def scenario() -> None:
        sink = HeldSink()
        async with TestClient(TestServer(_app(sink, max_requests=1))) as client:
            first = asyncio.ensure_future(client.post("/cdr", data=SAMPLE.read_bytes()))
            while not sink.futures:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            assert not first.done(), "no answer before Kafka acknowledged"
            second = await client.post("/cdr", data=SAMPLE.read_bytes())
            assert second.status == 503 and second.headers["Retry-After"] == "1"
            sink.futures[0].success(None)
            answer = await first
            assert answer.status == 200 and (await answer.json())["calls"] == 1

            failing = asyncio.ensure_future(client.post("/cdr", data=SAMPLE.read_bytes()))
            while len(sink.futures) < 2:
                await asyncio.sleep(0.01)
            sink.futures[1].failure(RuntimeError("broker gone"))
            assert (await failing).status == 503, "not stored: the dialer must retry"
            assert (await client.post("/cdr", data=b"x" * 5000)).status == 413

    asyncio.run(scenario())


def test_the_mappings_fields_rename_a_pushed_records_own_names() -> None:
    fields = {"callid": "c1", "starttime": "2026-11-04T12:00:00+08:00", "uniqueid": "old"}
    names = {"uniqueid": "CallId", "start": "StartTime", "answer": "AnswerTime"}
    assert renamed(fields, names) == {**fields, "uniqueid": "c1", "start": "2026-11-04T12:00:00+08:00"}
    assert renamed({"CallId": "c2"}, {"uniqueid": "CallId"})["uniqueid"] == "c2"


PUSH = SAMPLE.parents[1] / "json-push"


def _callbacks(document: str, mapping_file: str) -> MemorySink:
    """A callback document as --listen maps it (one POST), into a sink that keeps what it got."""
    mapping = load_mapping(SAMPLE.parents[1] / "mappings" / mapping_file)
    sink = MemorySink()
    mapper = LiveMapper(AsteriskJsonAdapter(mapping, LocalClock(ZoneInfo("Asia/Shanghai"))), mapping, sink,
                        Progress(total_bytes=None, enabled=False), fmt="asterisk-json")  # fmt: skip
    delivery = Delivery(origin="request r1")
    for line, raw, problem in documents((PUSH / document).read_bytes(), "application/json"):
        assert problem is None
        for record in mapper.records(raw, delivery.origin, line):
            mapper.send(delivery, record)
    return sink


def test_status_words_and_epoch_milliseconds_of_a_callback_are_mapped_as_declared() -> None:
    sink = _callbacks("callbacks-cn.json", "callbacks-cn.yaml")
    got = {cid: (c["rep_id"], c["disposition"], c["answered_at"], c["talk_seconds"])
           for cid, c in sink.by_call_id().items()}  # fmt: skip
    assert got == {
        "ast-7m-20261106-0001": ("1301", "answered", "2026-11-06T10:00:05+08:00", 60),
        "ast-7m-20261106-0002": ("1301", "no_answer", None, 0),
        "ast-7m-20261106-0003": ("1302", "answered", "2026-11-06T10:03:23+08:00", 20),
        "ast-7m-20261106-0005": ("1302", "busy", None, 0),
    }
    [(_, _, letter)] = sink.letters  # startTime in seconds where the mapping declares milliseconds
    assert letter["reason"] == "bad_timestamp" and "is it epoch_s?" in letter["detail"]
    assert letter["source_line"] == "4"


def test_epoch_seconds_and_iso_times_are_told_apart_and_an_ambiguous_number_is_rejected() -> None:
    sink = _callbacks("callbacks-epoch.json", "callbacks-epoch.yaml")
    got = {cid: (c["disposition"], c["dialed_at"], c["talk_seconds"]) for cid, c in sink.by_call_id().items()}
    assert got == {
        "ast-cb-0001": ("answered", "2026-11-06T11:00:00+08:00", 35),
        "ast-cb-0002": ("no_answer", "2026-11-06T11:01:40+08:00", 0),  # NOANSWER, the mapping's word
        "ast-cb-0003": ("busy", "2026-11-06T11:03:20+08:00", 0),
        "ast-cb-0004": ("failed", "2026-11-06T11:05:00+08:00", 0),
        "ast-cb-0005": ("answered", "2026-11-06T11:10:00+08:00", 45),
    }
    [(_, _, letter)] = sink.letters
    assert letter["reason"] == "bad_timestamp" and "11 digits" in letter["detail"]


def test_a_status_the_mapping_calls_not_final_is_rejected_as_such() -> None:
    mapping = IngestMapping(statuses={"通话中": "not_final"}, fields={"uniqueid": "id", "disposition": "st"})
    adapter = AsteriskJsonAdapter(mapping, LocalClock(ZoneInfo("Asia/Shanghai")))
    sink = MemorySink()
    mapper = LiveMapper(
        adapter, mapping, sink, Progress(total_bytes=None, enabled=False), fmt="asterisk-json"
    )
    raw = orjson.dumps({"id": "x1", "st": "通话中", "start": 1793934000, "end": 1793934010, "billsec": 0})
    for record in mapper.records(raw, "request r2"):
        mapper.send(Delivery(origin="request r2"), record)
    assert [letter["reason"] for _, _, letter in sink.letters] == ["not_final"]


def test_time_formats_name_only_the_formats_time_fields() -> None:
    with pytest.raises(MappingError, match="time_formats: answered_at: not a time field of asterisk-json"):
        AsteriskJsonAdapter(IngestMapping(time_formats={"answered_at": "epoch_ms"}),
                            LocalClock(ZoneInfo("Asia/Shanghai")))  # fmt: skip
    with pytest.raises(MappingError, match="none: it reads its own epochs"):
        FreeswitchJsonAdapter(IngestMapping(time_formats={"start": "epoch_ms"}), LocalClock(ZoneInfo("UTC")))


def test_a_journal_carries_the_legs_of_recent_calls_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "listen.legs.jsonl"
    first = RecentCalls(journal=LegJournal(path))
    answered = replace(leg("c1", b"a-leg"), answered=NOON, disposition="answered", talk_seconds=0,
                       rep_id="2301", team_id="east")  # fmt: skip
    first.add(answered)
    first.add(answered)  # a retry of the same leg: remembered once, journaled once
    first.add(leg("c2", b"other"), key="row-7")
    first.close()
    assert len(path.read_bytes().splitlines()) == 2

    with open(path, "ab") as handle:
        handle.write(b'{"digest": "ab", "call_id": "c3", "ori')  # a crash in the middle of a line
    again = RecentCalls(journal=LegJournal(path))
    legs = again.add(leg("c1", b"b-leg", line=2))
    assert [(kept.disposition, kept.rep_id, kept.answered) for kept in legs] == [
        ("answered", "2301", NOON), ("no_answer", None, None)]  # fmt: skip
    assert len(again.add(leg("c1", b"a-leg"))) == 2, "the journaled leg is known by its bytes' digest"
    assert [kept.line for kept in again.add(leg("c2", b"changed row", 9), key="row-7")] == [9]


def test_the_journal_rotates_and_keeps_the_last_legs(tmp_path: Path) -> None:
    journal = LegJournal(tmp_path / "j.jsonl", rotate_after=3)
    calls = RecentCalls(journal=journal)
    for n in range(7):
        calls.add(leg(f"c{n}", b"%d" % n))
    calls.close()
    kept = [found.call_id for _, found in LegJournal(tmp_path / "j.jsonl", rotate_after=3).load()]
    assert kept == ["c3", "c4", "c5", "c6"], "the previous file and the current one, oldest first"


@pytest.mark.parametrize(("credentials", "challenges"), [
    (Credentials("", SecretStr(""), SecretStr("tok")), ['Bearer realm="callfloor ingest"']),
    (Credentials("fs", SecretStr("pw"), SecretStr("")), ['Basic realm="callfloor ingest"']),
    (Credentials("fs", SecretStr("pw"), SecretStr("tok")),
     ['Basic realm="callfloor ingest"', 'Bearer realm="callfloor ingest"']),
])  # fmt: skip
def test_a_401_asks_for_the_schemes_configured(credentials: Credentials, challenges: list[str]) -> None:
    """A token-only feed answered ``WWW-Authenticate: Basic``: a client (or its operator)
    would send a user and password nobody configured."""

    async def scenario() -> None:
        async with TestClient(TestServer(_app(HeldSink(), 1, credentials))) as client:
            answer = await client.post("/cdr", data=b"{}")
            assert answer.status == 401
            assert answer.headers.getall("WWW-Authenticate") == challenges

    asyncio.run(scenario())
