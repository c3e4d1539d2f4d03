"""Secured Kafka, for real: every client of the project over TLS to a real Tansu, and the
refusals a floor meets first (an untrusted certificate, a refused SASL login) named clearly
and within a bound instead of a hang or a retry loop.

What Tansu 0.6 allows here (docs/ops/kafka-security.md, "What is tested"): TLS through
tests/support/tls.py's front (Tansu 0.6 cannot take ``--cert`` and ``--key`` together), and
``--authentication`` with SCRAM served by Tansu itself. No SCRAM user can exist on an
authenticating Tansu 0.6: it refuses AlterUserScramCredentials (``tansu user create``)
before a login, offers no PLAIN, and keeps users in the process only (neither ``memory://``
nor ``s3://`` storage persists them for a broker restarted with ``--authentication``); so
the SASL path is tested up to the broker's refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from pydantic import SecretStr

from deploy.local.broker import LocalBroker
from deploy.local.processes import callfloor_command
from schemas.kpis import business_day
from schemas.settings import Settings
from simulator import Truth
from streams.kafka_config import KafkaAccessError, started
from streams.snapshots import snapshot_producer
from streams.topics import ensure_topics
from tests.integration.test_ingest import EXPECTED, import_samples
from tests.integration.wallboard_page import running_wallboard
from tests.support.cli import report
from tests.support.daytime import in_daytime_zone
from tests.support.ports import free_port
from tests.support.processes import running_worker
from tests.support.tls import Certificates, TlsFront, make_certificates
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

PASSWORD = "s3cret-scram-pw-7Q"  # the refused login's password: must appear in no output


@dataclass
class SecuredBroker:
    broker: LocalBroker
    front: TlsFront

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.front.port}"


@contextlib.contextmanager
def _secured(
    logs_dir: Path, certificates: Certificates, name: str, authentication: bool,
    client_certificates: bool = False,
) -> Iterator[SecuredBroker]:  # fmt: skip
    """A Tansu advertising a TLS front's address, and that front; both stopped afterwards."""
    broker_port, front_port = free_port(), free_port()
    broker = LocalBroker(port=broker_port, advertised_port=front_port, authentication=authentication,
                         log_path=logs_dir / f"broker-{name}.log")  # fmt: skip
    broker.start()
    front = TlsFront(front_port, ("127.0.0.1", broker_port), certificates, client_certificates)
    try:
        front.start()
        yield SecuredBroker(broker, front)
    finally:
        front.stop()
        broker.stop()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("kafka-tls"))


@pytest.fixture(scope="module")
def tls_broker(logs_dir: Path, certificates: Certificates) -> Iterator[SecuredBroker]:
    """TLS only: the happy path of every client, and the untrusted-certificate refusal."""
    with _secured(logs_dir, certificates, "tls", authentication=False) as secured:
        yield secured


@pytest.fixture(scope="module")
def sasl_broker(logs_dir: Path, certificates: Certificates) -> Iterator[SecuredBroker]:
    """TLS and ``tansu broker --authentication`` (SCRAM required)."""
    with _secured(logs_dir, certificates, "tls-sasl", authentication=True) as secured:
        yield secured


@pytest.fixture(scope="module")
def mtls_broker(logs_dir: Path, certificates: Certificates) -> Iterator[SecuredBroker]:
    """TLS asking every client for a certificate signed by the test CA (mutual TLS)."""
    with _secured(logs_dir, certificates, "mtls", authentication=False, client_certificates=True) as secured:
        yield secured


def _tls(settings: Settings, secured: SecuredBroker, ca: Path) -> Settings:
    return Settings(**{**settings.model_dump(), "kafka_bootstrap": secured.bootstrap,
                       "kafka_security_protocol": "SSL", "kafka_ssl_cafile": ca})  # fmt: skip


def _sasl(settings: Settings, secured: SecuredBroker, ca: Path) -> Settings:
    return Settings(**{**settings.model_dump(), "kafka_bootstrap": secured.bootstrap,
                       "kafka_security_protocol": "SASL_SSL", "kafka_ssl_cafile": ca,
                       "kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": "floor",
                       "kafka_sasl_password": SecretStr(PASSWORD)})  # fmt: skip


def _run(settings: Settings, *argv: str) -> subprocess.CompletedProcess[str]:
    """A ``callfloor`` command; the timeout is the test's hang detector, not a speed check."""
    return subprocess.run(callfloor_command(*argv), env={**settings.to_env(), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=180)  # fmt: skip


COUNTED = ("dials", "connects", "valid_connects", "talk_seconds")


def _totals(rows: list[dict]) -> dict[str, int]:
    return {name: sum(int(row[name]) for row in rows) for name in COUNTED}


def _reported_totals(settings: Settings) -> dict[str, int] | None:
    """Totals of the samples' days and the days around them (the test runs in another business
    time zone than test_ingest's, which moves calls between days but not their totals), or
    None while the worker has not made its tables yet."""
    try:
        return _totals(report(settings, "2026-11-01", "2026-11-04"))
    except AssertionError:  # report() asserts a clean exit; before the tables exist it fails
        return None


def _board(settings: Settings) -> dict:
    url = f"http://127.0.0.1:{settings.wallboard_port}/api/floor"
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - our own wallboard on loopback
        return orjson.loads(answer.read())


def _board_dials(settings: Settings) -> int:
    try:
        return sum(row["cells"]["dials"]["value"] for row in _board(settings)["reps"])
    except OSError:
        return -1


def test_worker_wallboard_ingest_and_simulator_over_tls(
    settings: Settings, tls_broker: SecuredBroker, certificates: Certificates, worker_log: Path,
    logs_dir: Path, tmp_path: Path,
) -> None:  # fmt: skip
    """The worker (Faust/aiokafka), its snapshot publisher (aiokafka), the wallboard feed
    (aiokafka), ``callfloor ingest`` and ``callfloor simulate`` (kafka-python) and topic
    creation (kafka-python admin) all speak TLS to the broker, verified against the test CA."""
    secured = _tls(in_daytime_zone(settings), tls_broker, certificates.ca).model_copy(
        update={"late_horizon_days": 36_500, "wallboard_port": free_port(),
                "snapshot_topic": f"{settings.cdr_topic}.snapshots"}  # fmt: skip
    )
    counts = ensure_topics(secured)
    assert counts[secured.cdr_topic] == secured.partitions
    handshakes_before = tls_broker.front.handshake_failures
    with running_worker(secured, worker_log), running_wallboard(secured, logs_dir / "wallboard-tls.log"):
        import_samples(secured)
        wait_for(lambda: _reported_totals(secured) == _totals(EXPECTED), 180,
                 f"the imported CDRs to be counted (worker log: {worker_log})", every_s=2)  # fmt: skip

        truth_file = tmp_path / "truth.json"
        done = _run(secured, "simulate", "--reps", "4", "--calls", "60", "--live", "--seed", "7",
                    "--truth", str(truth_file))  # fmt: skip
        assert done.returncode == 0, done.stderr
        today = business_day(datetime.now(UTC), secured.zone).isoformat()
        truth = Truth.read(truth_file)
        expected = sum(int(r["dials"]) for r in truth.calls.values() if r["business_day"] == today)
        assert expected > 0
        wait_for(lambda: _board_dials(secured) == expected, 120,
                 f"the wallboard to show the {expected} dials simulated today", every_s=1)  # fmt: skip
    assert tls_broker.front.handshake_failures == handshakes_before, "a client failed its TLS handshake"


def test_untrusted_certificate_is_named_by_topics_ingest_and_worker(
    settings: Settings, tls_broker: SecuredBroker, certificates: Certificates, worker_log: Path
) -> None:
    """A client that trusts another CA stops with the cause and the variable to fix."""
    untrusted = _tls(settings, tls_broker, certificates.other_ca)
    topics = _run(untrusted, "topics", "describe")
    assert topics.returncode == 1, topics.stderr
    assert "not trusted" in topics.stderr and "CALLFLOOR_KAFKA_SSL_CAFILE" in topics.stderr, topics.stderr
    assert "Traceback" not in topics.stderr

    sample = Path(__file__).resolve().parents[1] / "samples" / "ingest" / "freeswitch"
    ingest = _run(untrusted, "ingest", "--format", "freeswitch-json", "--no-progress", str(sample))
    assert ingest.returncode == 1 and "not trusted" in ingest.stderr, ingest.stderr

    simulate = _run(untrusted, "simulate", "--calls", "10")
    assert simulate.returncode == 1 and "callfloor simulate: TLS:" in simulate.stderr, simulate.stderr
    assert "Traceback" not in simulate.stderr

    worker = _run(untrusted, "worker")
    assert worker.returncode == 2, worker.stderr[-2000:]
    assert "callfloor worker: TLS: the certificate of the Kafka broker" in worker.stderr
    assert "Traceback" not in worker.stderr


def test_refused_sasl_login_is_named_by_topics_worker_and_wallboard(
    settings: Settings, sasl_broker: SecuredBroker, certificates: Certificates, logs_dir: Path
) -> None:
    """Tansu requires SCRAM and knows no user ``floor``: the password is wrong. kafka-python
    (``callfloor topics``) and the worker stop with the cause; the wallboard (whose feed is
    aiokafka) keeps retrying and logs the cause. The password is shown nowhere."""
    refused = _sasl(settings, sasl_broker, certificates.ca).model_copy(update={"wallboard_port": free_port()})
    topics = _run(refused, "topics", "create")
    assert topics.returncode == 1, topics.stderr
    assert "SASL" in topics.stderr and "refused the login of user 'floor' with SCRAM-SHA-512" in topics.stderr
    assert "CALLFLOOR_KAFKA_SASL_PASSWORD" in topics.stderr

    worker = _run(refused, "worker")
    assert worker.returncode == 2, worker.stderr[-2000:]
    assert "callfloor worker: SASL: the Kafka cluster" in worker.stderr and "Traceback" not in worker.stderr

    # aiokafka on its own (the worker's snapshot producer), not behind kafka-python's admin
    async def start_producer() -> None:
        await started(snapshot_producer(refused), refused)

    with pytest.raises(KafkaAccessError, match="SASL: .* refused the login of user 'floor' with SCRAM-SHA"):
        asyncio.run(start_producer())

    wallboard_log = logs_dir / "wallboard-sasl-refused.log"
    with running_wallboard(refused, wallboard_log):
        wait_for(lambda: "refused the login of user 'floor'" in wallboard_log.read_text(errors="replace"),
                 90, f"the wallboard to log the refused login ({wallboard_log})", every_s=1)  # fmt: skip
    for text in (topics.stdout, topics.stderr, worker.stdout, worker.stderr, wallboard_log.read_text()):
        assert PASSWORD not in text, "the SASL password was printed"
    assert "'kafka_sasl_password': '**********'" in worker.stderr, "the worker logs its masked settings"


def test_a_plaintext_client_of_a_tls_listener_fails_fast_and_says_so(
    settings: Settings, tls_broker: SecuredBroker, certificates: Certificates
) -> None:
    """The commonest slip: CALLFLOOR_KAFKA_SECURITY_PROTOCOL left at PLAINTEXT. No hang."""
    plain = settings.model_copy(update={"kafka_bootstrap": tls_broker.bootstrap})
    topics = _run(plain, "topics", "describe")
    assert topics.returncode == 1 and "cannot reach Kafka" in topics.stderr, topics.stderr


def test_mutual_tls_with_an_encrypted_client_key(
    settings: Settings, mtls_broker: SecuredBroker, certificates: Certificates
) -> None:
    """A listener that authenticates clients by certificate: kafka-python (``callfloor
    topics``) and aiokafka (the worker's snapshot producer) present the client certificate,
    whose key is encrypted; without one, the refusal says what to set."""
    without = _tls(settings, mtls_broker, certificates.ca)
    refused = _run(without, "topics", "describe")
    assert refused.returncode == 1, refused.stderr
    assert "refused a client without a certificate" in refused.stderr, refused.stderr
    assert "set CALLFLOOR_KAFKA_SSL_CERTFILE and CALLFLOOR_KAFKA_SSL_KEYFILE" in refused.stderr

    password = SecretStr(certificates.client_key_password)
    with_cert = Settings(**{**without.model_dump(), "kafka_ssl_certfile": certificates.client_cert,
                            "kafka_ssl_keyfile": certificates.client_key,
                            "kafka_ssl_key_password": password})  # fmt: skip
    created = _run(with_cert, "topics", "create")
    assert created.returncode == 0, created.stderr
    assert f"{with_cert.snapshot_topic}: created" in created.stdout

    async def publish() -> int:
        producer = snapshot_producer(with_cert)
        await producer.start()
        try:
            sent = await producer.send_and_wait(with_cert.snapshot_topic, b"{}", key=b"mtls-check")
            return sent.offset
        finally:
            await producer.stop()

    assert asyncio.run(publish()) == 0
    assert certificates.client_key_password not in created.stdout + created.stderr + refused.stderr
