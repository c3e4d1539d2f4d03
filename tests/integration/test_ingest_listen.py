"""``callfloor ingest --listen``: FreeSWITCH ``mod_json_cdr`` and JSON callbacks POSTed by real
HTTP clients (urllib, aiohttp) into the real broker, worker and ClickHouse engine.

Each call counts once in ``callfloor report`` although legs come in separate POSTs, POSTs are
retried and sent twenty at once; a 200 means the call is already in Kafka; a reject is in the
DLQ with the request's id; without credentials nothing gets in; secrets stay out of the log.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import ssl
import subprocess
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest

from deploy.local.broker import LocalBroker
from deploy.local.processes import callfloor_command
from ingest.listen import BASE64_FORM
from schemas.settings import Settings
from streams.topics import ensure_topics
from tests.integration.test_ingest import SAMPLES, drain, row
from tests.support.cli import report
from tests.support.feeds import basic, post, running_ingest
from tests.support.kafka import read_topic
from tests.support.ports import free_port
from tests.support.processes import running_worker
from tests.support.tls import make_certificates

pytestmark = pytest.mark.integration

PUSHED = SAMPLES / "freeswitch-push"
CALLBACKS = SAMPLES / "json-push"
USER, PASSWORD, TOKEN = "freeswitch", "pw-Zq8-never-logged", "tok-Xr4-never-logged"
FORM = "application/x-www-form-urlencoded"
D4 = "2026-11-04"
EXPECTED = sorted([
    row(D4, "1201", "west", 2, 1, 1, 50),  # callback answered 50 s; no answer
    row(D4, "1202", "west", 1, 1, 0, 20),  # callback answered 20 s
    row(D4, "2101", "east", 2, 1, 1, 95),  # A and B legs in two POSTs, one call of 95 s; busy
    row(D4, "2102", "east", 1, 1, 1, 40),  # encode-values false, sent 20 times at once
], key=lambda r: r["rep_id"])  # fmt: skip


def form(document: bytes) -> bytes:
    """mod_json_cdr's body with ``encode`` true (its default): ``cdr=`` and the URL-encoded document."""
    return urlencode({"cdr": document}).encode()


async def post_concurrently(url: str, body: bytes, times: int) -> list[int]:
    async with aiohttp.ClientSession(headers=basic(USER, PASSWORD)) as session:

        async def one() -> int:
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as answer:
                await answer.read()
                return answer.status

        return list(await asyncio.gather(*(one() for _ in range(times))))


def in_topic(settings: Settings, call_id: str) -> bool:
    records = read_topic(settings.kafka_bootstrap, settings.cdr_topic)
    return any(orjson.loads(record.value)["call_id"] == call_id for record in records)


def test_pushed_cdrs_count_once_and_rejects_carry_the_request_id(
    settings: Settings, worker_log: Path, logs_dir: Path
) -> None:
    settings = settings.model_copy(update={"late_horizon_days": 36_500})  # the samples have fixed dates
    ensure_topics(settings)
    fs_port, js_port = free_port(), free_port()
    fs_log, js_log = logs_dir / "listen-freeswitch.log", logs_dir / "listen-json.log"
    basic_env = {"CALLFLOOR_INGEST_LISTEN_USER": USER, "CALLFLOOR_INGEST_LISTEN_PASSWORD": PASSWORD}
    fs_args = ("--listen", f"127.0.0.1:{fs_port}", "--format", "freeswitch-json")
    js_args = ("--listen", f":{js_port}", "--format", "asterisk-json",
               "--mapping", str(SAMPLES / "mappings" / "callbacks.yaml"))  # fmt: skip
    with (
        running_worker(settings, worker_log) as worker,
        running_ingest(settings, fs_log, *fs_args, env=basic_env, port=fs_port),
        running_ingest(
            settings, js_log, *js_args, env={"CALLFLOOR_INGEST_LISTEN_TOKEN": TOKEN}, port=js_port
        ),
    ):
        fs, js = f"http://127.0.0.1:{fs_port}/cdr", f"http://127.0.0.1:{js_port}/callbacks"
        a_leg = (PUSHED / "a_answered.cdr.json").read_bytes()
        auth = basic(USER, PASSWORD)

        assert post(fs, form(a_leg), FORM)[0] == 401, "no credentials, no entry"
        assert post(fs, form(a_leg), FORM, basic(USER, "wrong"))[0] == 401
        assert post(js, b"[]", "application/json", {"Authorization": "Bearer wrong"})[0] == 401

        status, answer = post(fs, form(a_leg), FORM, auth)
        assert status == 200 and orjson.loads(answer)["calls"] == 1
        assert in_topic(settings, "fs-5c0b2a1e-7d3f-4e2a-8b6c-100000000011"), "200 only once Kafka has it"
        assert post(fs, form(a_leg), FORM, auth)[0] == 200  # mod_json_cdr's retry of the same leg
        b_leg = (PUSHED / "b_answered.cdr.json").read_bytes()
        assert post(fs, b_leg, "application/json", auth)[0] == 200  # encode=false: the bare document
        busy = base64.b64encode((PUSHED / "a_busy.cdr.json").read_bytes())
        status, answer = post(
            fs + "?uuid=5c0b2a1e-7d3f-4e2a-8b6c-100000000013", b"cdr=" + busy, BASE64_FORM, auth
        )  # encode=base64, not URL-encoded; the leg's uuid as mod_json_cdr adds it
        assert status == 200 and orjson.loads(answer)["request_id"] == "5c0b2a1e-7d3f-4e2a-8b6c-100000000013"
        plain = (PUSHED / "plain_values.cdr.json").read_bytes()
        assert asyncio.run(post_concurrently(fs, plain, 20)) == [200] * 20
        status, answer = post(fs + "?uuid=5c0b2a1e-7d3f-4e2a-8b6c-100000000015",
                              (PUSHED / "unknown_cause.cdr.json").read_bytes(), "application/json",
                              {**auth, "X-Request-Id": "fs-req-0042"})  # fmt: skip
        assert status == 200 and orjson.loads(answer) == {
            "request_id": "fs-req-0042",
            "calls": 0,
            "rejected": 1,
        }
        assert post(fs, b"x" * (2 * 1024 * 1024), "application/json", auth)[0] == 413

        bearer = {"Authorization": f"Bearer {TOKEN}"}
        callbacks = (CALLBACKS / "callbacks.json").read_bytes()
        for _ in range(2):  # a callback sent twice counts once
            status, answer = post(js, callbacks, "application/json", bearer)
            assert status == 200 and orjson.loads(answer)["calls"] == 3
        status, answer = post(js, (CALLBACKS / "bad_billsec.json").read_bytes(), "application/json", bearer)
        assert status == 200 and orjson.loads(answer)["rejected"] == 1
        callback_id = orjson.loads(answer)["request_id"]

        drain(settings, worker_log)
        assert report(settings, D4, D4) == EXPECTED
        assert worker.alive()

    letters = read_topic(settings.kafka_bootstrap, settings.dlq_topic)
    headers = [{name: value.decode() for name, value in record.headers} for record in letters]
    assert Counter((h["reason"], h["request_id"]) for h in headers) == Counter(
        {("unknown_status", "fs-req-0042"): 1, ("bad_number", callback_id): 1}
    )
    assert all(h["source_file"] == f"request {h['request_id']}" for h in headers)
    logged = fs_log.read_text() + js_log.read_text()
    assert "fs-req-0042" in logged and PASSWORD not in logged and TOKEN not in logged


def test_listening_beyond_loopback_without_credentials_refuses_to_start(settings: Settings) -> None:
    ensure_topics(settings)
    argv = callfloor_command("ingest", "--listen", f"0.0.0.0:{free_port()}", "--format", "freeswitch-json")
    done = subprocess.run(argv, env={**settings.to_env(), "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "needs credentials" in done.stderr and "CALLFLOOR_INGEST_LISTEN_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_cdr_kafka_did_not_store_is_answered_503_so_the_dialer_retries(
    settings: Settings, logs_dir: Path
) -> None:
    broker = LocalBroker(port=free_port(), log_path=logs_dir / "broker-for-503.log")
    broker.start()
    try:
        own = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
        ensure_topics(own)
        port = free_port()
        args = ("--listen", f"127.0.0.1:{port}", "--format", "freeswitch-json")
        with running_ingest(own, logs_dir / "listen-503.log", *args, port=port):
            url, busy = f"http://127.0.0.1:{port}/cdr", (PUSHED / "a_busy.cdr.json").read_bytes()
            assert post(url, busy, "application/json")[0] == 200
            broker.stop()
            status, answer = post(url, busy, "application/json")
            assert status == 503 and "retry" in orjson.loads(answer)["error"]
    finally:
        broker.stop()


BRIDGE = SAMPLES / "freeswitch-bridge"
D5, D6 = "2026-11-05", "2026-11-06"
EXPECTED_BRIDGED_AND_CALLBACKS = sorted([
    row(D5, "2201", "east", 2, 1, 1, 60),  # IVR answered, nobody bridged: a dial, no connect; bridged 60 s
    row(D5, "2202", "east", 1, 1, 1, 60),  # IVR 30 s, then bridged 60 s: talk from the bridge
    row(D6, "1301", "south", 2, 1, 1, 60),  # 已接通 60 s (epoch ms); 未接通
    row(D6, "1302", "south", 2, 1, 0, 20),  # 已接通 20 s; 用户忙; a time in seconds rejected
    row(D6, "1401", "west", 3, 1, 1, 35),  # epoch seconds: ANSWERED 35 s, NOANSWER, BUSY
    row(D6, "1402", "west", 2, 1, 1, 45),  # FAILED; ISO 8601 times, 45 s; an 11-digit time rejected
], key=lambda r: (r["business_day"], r["rep_id"]))  # fmt: skip


def test_switch_answered_legs_status_words_and_epoch_times_count_right_over_http(
    settings: Settings, worker_log: Path, logs_dir: Path
) -> None:
    settings = settings.model_copy(update={"late_horizon_days": 36_500})  # the samples have fixed dates
    ensure_topics(settings)
    fs_port, cn_port, ep_port = free_port(), free_port(), free_port()
    mappings = SAMPLES / "mappings"
    with (
        running_worker(settings, worker_log) as worker,
        running_ingest(settings, logs_dir / "listen-bridge.log", "--listen", f":{fs_port}",
                       "--format", "freeswitch-json", port=fs_port),
        running_ingest(settings, logs_dir / "listen-cn.log", "--listen", f":{cn_port}", "--format",
                       "asterisk-json", "--mapping", str(mappings / "callbacks-cn.yaml"), port=cn_port),
        running_ingest(settings, logs_dir / "listen-epoch.log", "--listen", f":{ep_port}", "--format",
                       "asterisk-json", "--mapping", str(mappings / "callbacks-epoch.yaml"), port=ep_port),
    ):  # fmt: skip
        fs = f"http://127.0.0.1:{fs_port}/cdr"
        for name in ("a_ivr_only", "a_bridged", "b_bridged", "a_ivr_then_bridge", "b_ivr_then_bridge"):
            status, answer = post(fs, form((BRIDGE / f"{name}.cdr.json").read_bytes()), FORM)
            assert status == 200 and orjson.loads(answer) | {"request_id": ""} == {
                "request_id": "", "calls": 1, "rejected": 0}  # fmt: skip
        pushes = ((cn_port, "callbacks-cn.json", (4, 1)), (ep_port, "callbacks-epoch.json", (5, 1)))
        for port, name, counts in pushes:
            status, answer = post(f"http://127.0.0.1:{port}/push", (CALLBACKS / name).read_bytes(),
                                  "application/json; charset=utf-8")  # fmt: skip
            got = orjson.loads(answer)
            assert status == 200 and (got["calls"], got["rejected"]) == counts

        drain(settings, worker_log)
        assert report(settings, D5, D6) == EXPECTED_BRIDGED_AND_CALLBACKS
        assert worker.alive()

    letters = read_topic(settings.kafka_bootstrap, settings.dlq_topic)
    details = sorted(dict(record.headers)["detail"].decode() for record in letters)
    assert len(details) == 2 and all(d.startswith("start: ") for d in details)
    assert "is it epoch_s?" in details[0] + details[1] and "11 digits" in details[0] + details[1]


def https_post(url: str, body: bytes, trusted_ca: Path, headers: dict[str, str]) -> tuple[int, bytes]:
    """One POST over HTTPS with urllib, trusting ``trusted_ca`` only (hostname checked)."""
    context = ssl.create_default_context(cafile=str(trusted_ca))
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return response.status, response.read()


def test_the_listener_serves_https_to_clients_that_trust_its_ca_only(
    settings: Settings, logs_dir: Path, tmp_path: Path
) -> None:
    ensure_topics(settings)
    certificates = make_certificates(tmp_path / "tls")
    port = free_port()
    tls_env = {"CALLFLOOR_INGEST_LISTEN_CERT_FILE": str(certificates.server_cert),
               "CALLFLOOR_INGEST_LISTEN_KEY_FILE": str(certificates.server_key),
               "CALLFLOOR_INGEST_LISTEN_TOKEN": TOKEN}  # fmt: skip
    args = ("--listen", f"127.0.0.1:{port}", "--format", "freeswitch-json")
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    busy = (PUSHED / "a_busy.cdr.json").read_bytes()
    log = logs_dir / "listen-https.log"
    with running_ingest(settings, log, *args, env=tls_env, port=port):
        for host in ("127.0.0.1", "localhost"):  # the certificate names both
            status, answer = https_post(f"https://{host}:{port}/cdr", busy, certificates.ca, bearer)
            assert status == 200 and orjson.loads(answer)["calls"] == 1
        assert in_topic(settings, "fs-5c0b2a1e-7d3f-4e2a-8b6c-100000000013")
        with pytest.raises(urllib.error.URLError) as refused:  # a client that trusts another CA
            https_post(f"https://127.0.0.1:{port}/cdr", busy, certificates.other_ca, bearer)
        assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            post(f"http://127.0.0.1:{port}/cdr", busy, "application/json", bearer)  # plain HTTP: no answer
    assert f"listening on https://127.0.0.1:{port}/" in log.read_text()


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CALLFLOOR_INGEST_LISTEN_CERT_FILE": "{cert}", "CALLFLOOR_INGEST_LISTEN_KEY_FILE": "{key}"},
         "needs credentials"),  # TLS is no substitute for credentials beyond loopback
        ({"CALLFLOOR_INGEST_LISTEN_CERT_FILE": "{cert}", "CALLFLOOR_INGEST_LISTEN_KEY_FILE": "{other_key}",
          "CALLFLOOR_INGEST_LISTEN_TOKEN": TOKEN}, "does not load with the key"),  # another certificate's key
        ({"CALLFLOOR_INGEST_LISTEN_CERT_FILE": "{cert}", "CALLFLOOR_INGEST_LISTEN_KEY_FILE": "{client_key}",
          "CALLFLOOR_INGEST_LISTEN_TOKEN": TOKEN}, "does not load with the key"),  # encrypted: no prompt
        ({"CALLFLOOR_INGEST_LISTEN_CERT_FILE": "{cert}", "CALLFLOOR_INGEST_LISTEN_TOKEN": TOKEN},
         "HTTPS needs both"),
    ],
)  # fmt: skip
def test_a_listener_that_must_not_serve_https_as_configured_refuses_to_start(
    settings: Settings, tmp_path: Path, env: dict[str, str], says: str
) -> None:
    ensure_topics(settings)
    certificates = make_certificates(tmp_path / "tls")
    paths = {"cert": certificates.server_cert, "key": certificates.server_key,
             "client_key": certificates.client_key,
             "other_key": certificates.other_ca.with_suffix(".key")}  # fmt: skip
    argv = callfloor_command("ingest", "--listen", f"0.0.0.0:{free_port()}", "--format", "freeswitch-json")
    given = {name: value.format(**paths) for name, value in env.items()}
    done = subprocess.run(argv, env={**settings.to_env(), **given, "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and TOKEN not in done.stderr


RESTART = SAMPLES / "freeswitch-restart"
D7 = "2026-11-07"


def test_a_listener_restarted_between_a_calls_legs_joins_them(
    settings: Settings, worker_log: Path, logs_dir: Path
) -> None:
    # the dialer's customer leg knows team and campaign, the rep's leg only the rep: alone, the
    # first is no_identity and the second would count under team and campaign 'unassigned'
    settings = settings.model_copy(update={"late_horizon_days": 36_500})
    ensure_topics(settings)
    port = free_port()
    url, args = f"http://127.0.0.1:{port}/cdr", ("--listen", f":{port}", "--format", "freeswitch-json")
    with running_worker(settings, worker_log) as worker:
        with running_ingest(settings, logs_dir / "listen-restart-1.log", *args, port=port):
            status, answer = post(url, form((RESTART / "a_customer.cdr.json").read_bytes()), FORM)
            assert status == 200 and orjson.loads(answer)["rejected"] == 1  # no rep on the customer's leg
        journal = settings.data_dir / "ingest" / f"listen-127.0.0.1-{port}.legs.jsonl"
        assert journal.exists(), "the leg outlives the process"
        with running_ingest(settings, logs_dir / "listen-restart-2.log", *args, port=port):
            status, answer = post(url, form((RESTART / "b_rep.cdr.json").read_bytes()), FORM)
            assert status == 200 and orjson.loads(answer)["calls"] == 1
        drain(settings, worker_log)
        assert report(settings, D7, D7) == [row(D7, "2301", "east", 1, 1, 1, 80)]
        assert worker.alive()
    cdrs = [orjson.loads(r.value) for r in read_topic(settings.kafka_bootstrap, settings.cdr_topic)]
    [cdr] = [c for c in cdrs if c["call_id"] == "fs-5c0b2a1e-7d3f-4e2a-8b6c-300000000031"]
    assert (cdr["campaign_id"], cdr["version"]) == ("solar", 26)
    assert cdr["dialed_at"] == "2026-11-07T10:00:00+08:00", "the customer's leg started the call"
