"""Kafka TLS/SASL settings: validated with errors naming the variable, secrets never shown,
turned into each client library's options in one place, and used by every client."""

from __future__ import annotations

import ast
import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from deploy.cli import main
from schemas.settings import Settings
from streams.kafka_config import aiokafka_config, faust_config, kafka_python_config
from tests.support.tls import Certificates, make_certificates

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-4Xq-never-shown"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def sasl_ssl(certificates: Certificates, **extra: object) -> Settings:
    return Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-256",
                    kafka_sasl_username="floor", kafka_sasl_password=PASSWORD,
                    kafka_ssl_cafile=certificates.ca, **extra)  # fmt: skip


@pytest.mark.parametrize(
    ("values", "variable", "words"),
    [
        ({"CALLFLOOR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "CALLFLOOR_KAFKA_SASL_MECHANISM", "needs"),
        ({"CALLFLOOR_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "CALLFLOOR_KAFKA_SASL_MECHANISM": "PLAIN",
          "CALLFLOOR_KAFKA_SASL_USERNAME": "u"}, "CALLFLOOR_KAFKA_SASL_PASSWORD", "needs"),  # fmt: skip
        ({"CALLFLOOR_KAFKA_SASL_USERNAME": "u"}, "CALLFLOOR_KAFKA_SASL_USERNAME", "does not use SASL"),
        ({"CALLFLOOR_KAFKA_SECURITY_PROTOCOL": "SSL", "CALLFLOOR_KAFKA_SASL_PASSWORD": PASSWORD},
         "CALLFLOOR_KAFKA_SASL_PASSWORD", "does not use SASL"),  # fmt: skip
        ({"CALLFLOOR_KAFKA_SECURITY_PROTOCOL": "SSL", "CALLFLOOR_KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"},
         "CALLFLOOR_KAFKA_SSL_CAFILE", "no such file /nonexistent/ca.pem"),  # fmt: skip
        ({"CALLFLOOR_KAFKA_SSL_CAFILE": "/etc/hostname"}, "CALLFLOOR_KAFKA_SSL_CAFILE", "does not use TLS"),
        ({"CALLFLOOR_KAFKA_SECURITY_PROTOCOL": "TLS"}, "CALLFLOOR_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
        ({"CALLFLOOR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "CALLFLOOR_KAFKA_SASL_MECHANISM": "GSSAPI"},
         "CALLFLOOR_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),  # fmt: skip
        ({"CALLFLOOR_KAFKA_SSL_KEY_PASSWORD": PASSWORD}, "CALLFLOOR_KAFKA_SSL_KEY_PASSWORD", "KEYFILE"),
    ],
)
def test_bad_security_settings_stop_with_the_variable_named(
    values: dict[str, str], variable: str, words: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    assert main(["topics", "describe"]) == 2
    err = capsys.readouterr().err
    assert f"callfloor: bad setting {variable}:" in err and words in err, err
    assert PASSWORD not in err


def test_a_key_needs_its_certificate(certificates: Certificates) -> None:
    with pytest.raises(ValidationError, match="KAFKA_SSL_KEYFILE needs CALLFLOOR_KAFKA_SSL_CERTFILE"):
        Settings(kafka_security_protocol="SSL", kafka_ssl_keyfile=certificates.server_key)


def test_a_ca_file_that_is_no_certificate_is_named() -> None:
    with pytest.raises(ValidationError, match="CALLFLOOR_KAFKA_SSL_CAFILE: /etc/hostname holds no PEM CA"):
        Settings(kafka_security_protocol="SSL", kafka_ssl_cafile="/etc/hostname")


@pytest.mark.parametrize("password", ["", "wrong-password"])
def test_an_encrypted_key_with_a_wrong_or_no_password_is_named_at_start(
    certificates: Certificates, password: str
) -> None:
    """Loaded while the settings are checked, and never by prompting on a terminal."""
    with pytest.raises(ValidationError) as refused:
        Settings(kafka_security_protocol="SSL", kafka_ssl_certfile=certificates.client_cert,
                 kafka_ssl_keyfile=certificates.client_key, kafka_ssl_key_password=password)  # fmt: skip
    text = str(refused.value)
    assert "CALLFLOOR_KAFKA_SSL_KEY_PASSWORD" in text and "wrong or missing key password" in text
    assert password not in text or not password
    good = Settings(kafka_security_protocol="SSL", kafka_ssl_certfile=certificates.client_cert,
                    kafka_ssl_keyfile=certificates.client_key,
                    kafka_ssl_key_password=certificates.client_key_password)  # fmt: skip
    assert isinstance(kafka_python_config(good)["ssl_context"], ssl.SSLContext)
    assert good.masked()["kafka_ssl_key_password"] == "**********"


def test_passwords_are_masked_and_absent_from_errors(certificates: Certificates) -> None:
    settings = sasl_ssl(certificates, kafka_ssl_certfile=certificates.server_cert,
                        kafka_ssl_keyfile=certificates.server_key)  # fmt: skip
    masked = settings.masked()
    assert masked["kafka_sasl_password"] == "**********"
    assert PASSWORD not in str(masked) and PASSWORD not in repr(settings)
    assert settings.to_env()["CALLFLOOR_KAFKA_SASL_PASSWORD"] == PASSWORD, "a child process gets it"
    with pytest.raises(ValidationError) as refused:
        Settings(kafka_security_protocol="SSL", kafka_sasl_password=PASSWORD)
    assert PASSWORD not in str(refused.value), "pydantic shows the refused input unless told not to"


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    settings = Settings(kafka_bootstrap="a:9092, b:9093")
    servers = ["a:9092", "b:9093"]
    assert kafka_python_config(settings) == {"bootstrap_servers": servers, "security_protocol": "PLAINTEXT",
                                             "bootstrap_timeout_ms": 10_000}  # fmt: skip
    assert aiokafka_config(settings) == {"bootstrap_servers": servers, "security_protocol": "PLAINTEXT"}
    assert faust_config(settings) == {"broker": [f"kafka://{s}" for s in servers], "broker_credentials": None}


def test_sasl_ssl_reaches_kafka_python_and_aiokafka(certificates: Certificates) -> None:
    settings = sasl_ssl(certificates)
    for options in (kafka_python_config(settings), aiokafka_config(settings)):
        assert options["security_protocol"] == "SASL_SSL"
        assert options["sasl_mechanism"] == "SCRAM-SHA-256"
        assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("floor", PASSWORD)
        context = options["ssl_context"]
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert any("callfloor test ca" in str(ca.get("subject")) for ca in context.get_ca_certs())


def test_faust_hands_the_credentials_to_aiokafka(certificates: Certificates) -> None:
    """faust-streaming turns ``broker_credentials`` into aiokafka options in
    ``credentials_to_aiokafka_auth``; check what reaches aiokafka, for SASL_SSL and SSL."""
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from streams.faust_internals import BatchingApp

    app = BatchingApp("kafka-security-test", batch_topics={}, **faust_config(sasl_ssl(certificates)))
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)
    assert auth["security_protocol"] == "SASL_SSL" and auth["sasl_mechanism"] == "SCRAM-SHA-256"
    assert auth["sasl_plain_password"] == PASSWORD and isinstance(auth["ssl_context"], ssl.SSLContext)
    assert PASSWORD not in repr(app.conf.broker_credentials)

    tls_only = Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=certificates.ca)
    app = BatchingApp("kafka-security-test-2", batch_topics={}, **faust_config(tls_only))
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)
    assert auth["security_protocol"] == "SSL" and isinstance(auth["ssl_context"], ssl.SSLContext)

    plain = Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="PLAIN",
                     kafka_sasl_username="u", kafka_sasl_password=SecretStr("p"))  # fmt: skip
    app = BatchingApp("kafka-security-test-3", batch_topics={}, **faust_config(plain))
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)
    assert auth["security_protocol"] == "SASL_PLAINTEXT" and auth["ssl_context"] is None


def test_the_client_libraries_accept_the_options(certificates: Certificates) -> None:
    """aiokafka checks its options when a client is made (no connection yet)."""
    import asyncio

    from aiokafka.client import AIOKafkaClient

    async def make() -> None:
        client = AIOKafkaClient(**aiokafka_config(sasl_ssl(certificates)))
        await client.close()

    asyncio.run(make())


# --- every Kafka client is built through streams/kafka_config.py --------------------------

CLIENTS = {"KafkaProducer", "KafkaConsumer", "KafkaAdminClient",
           "AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaClient"}  # fmt: skip
APPS = {"App", "BatchingApp"}
BUILDERS = {"kafka_python_config", "aiokafka_config"}


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def unsecured_clients(source: str, filename: str) -> list[str]:
    """Client constructions in ``source`` that do not take ``**`` from the one place."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        called = _name(node.func)
        spread = {_name(k.value.func) for k in node.keywords
                  if k.arg is None and isinstance(k.value, ast.Call)}  # fmt: skip
        if called in CLIENTS and not spread & BUILDERS or called in APPS and "faust_config" not in spread:
            found.append(f"{filename}:{node.lineno} {called}(...)")
        if any(k.arg in ("bootstrap_servers", "broker") for k in node.keywords):
            found.append(f"{filename}:{node.lineno} {called}(bootstrap_servers/broker=...)")
    return found


def test_the_scanner_finds_a_client_built_by_hand() -> None:
    hand_made = ("from kafka import KafkaProducer\n"
                 "p = KafkaProducer(bootstrap_servers='x:9092')\n"
                 "app = faust.App('a', broker='kafka://x')\n"
                 "ok = AIOKafkaConsumer(**aiokafka_config(s), group_id=None)\n")  # fmt: skip
    assert unsecured_clients(hand_made, "example.py") == [
        "example.py:2 KafkaProducer(...)", "example.py:2 KafkaProducer(bootstrap_servers/broker=...)",
        "example.py:3 App(...)", "example.py:3 App(bootstrap_servers/broker=...)",
    ]


def test_every_kafka_client_of_the_project_goes_through_the_one_place() -> None:
    """The product and the benchmarks; tests/ talks to the embedded plain broker directly."""
    skipped = {"tests", ".venv", ".git", "build"}
    sources = [p for p in ROOT.rglob("*.py") if not skipped & set(p.relative_to(ROOT).parts)]
    assert len(sources) > 100
    found = [hit for path in sources
             for hit in unsecured_clients(path.read_text(), str(path.relative_to(ROOT)))]  # fmt: skip
    assert found == [], "Kafka clients not built from streams/kafka_config.py:\n" + "\n".join(found)


# --- the deployment files show the secured form, and the worker accepts it -----------------

CA_MOUNT = "/etc/callfloor/kafka"


def _yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def test_k8s_secured_form_is_one_the_settings_accept(certificates: Certificates) -> None:
    k8s = ROOT / "deploy" / "k8s"
    env = {**_yaml(k8s / "configmap.yaml")["data"], **_yaml(k8s / "secret.yaml")["stringData"]}
    assert env["CALLFLOOR_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["CALLFLOOR_KAFKA_SSL_CAFILE"] == f"{CA_MOUNT}/ca.crt"
    for manifest in ("worker-deployment.yaml", "topics-job.yaml"):
        pod = _yaml(k8s / manifest)["spec"]["template"]["spec"]
        mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        volume = next(v for v in pod["volumes"] if v["name"] == "kafka-ca")
        assert mounts["kafka-ca"] == CA_MOUNT
        assert volume["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    env["CALLFLOOR_KAFKA_SSL_CAFILE"] = str(certificates.ca)  # what the mount provides in the pod
    settings = Settings(**{name.removeprefix("CALLFLOOR_").lower(): value for name, value in env.items()})
    options = kafka_python_config(settings)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512" and options["sasl_plain_password"] == "change-me"


def test_compose_passes_the_security_settings_and_mounts_the_ca() -> None:
    compose = _yaml(ROOT / "deploy" / "compose" / "compose.yaml")
    for name in ("topics", "worker", "wallboard"):
        service = compose["services"][name]
        assert f"./kafka-ca:{CA_MOUNT}:ro" in service["volumes"], name
        passed = {key for key in service["environment"] if key.startswith("CALLFLOOR_KAFKA_")}
        assert passed >= {"CALLFLOOR_KAFKA_SECURITY_PROTOCOL", "CALLFLOOR_KAFKA_SASL_MECHANISM",
                          "CALLFLOOR_KAFKA_SASL_USERNAME", "CALLFLOOR_KAFKA_SASL_PASSWORD",
                          "CALLFLOOR_KAFKA_SSL_CAFILE"}, name  # fmt: skip
    # the defaults (.env.example) are the bundled PLAINTEXT broker, empty values meaning unset
    defaults = Settings(kafka_security_protocol="PLAINTEXT", kafka_sasl_mechanism="", kafka_ssl_cafile="")
    assert kafka_python_config(defaults)["security_protocol"] == "PLAINTEXT"
