"""The one place that turns the ``CALLFLOOR_KAFKA_*`` settings into Kafka client options.

Every Kafka client of the project is built from these functions (a unit test scans the code
for client constructions that do not use them), so TLS and SASL reach all of them alike:

- :func:`kafka_python_config` for kafka-python (``KafkaProducer``, ``KafkaConsumer``,
  ``KafkaAdminClient``: ingest, topics, the simulator, benchmarks);
- :func:`aiokafka_config` for aiokafka (the wallboard feed, the snapshot publisher);
- :func:`faust_config` for Faust (the worker): ``broker`` and ``broker_credentials``, which
  faust-streaming 0.15.3 hands to each aiokafka client it makes
  (``credentials_to_aiokafka_auth``: ``SASLCredentials`` with an ``ssl_context`` becomes
  ``SASL_SSL``, ``SSLCredentials`` becomes ``SSL``).

All three use one TLS context (:func:`ssl_context`): hostname checked, the CA from
``CALLFLOOR_KAFKA_SSL_CAFILE`` or the system's, an optional client certificate.

A refused handshake or login surfaces in the client libraries as a bootstrap timeout
(kafka-python) or a bare ``KeyError('v')`` (aiokafka's SCRAM), which names no cause.
:func:`explain_refusal` finds the cause with a probe of its own and returns a sentence that
names it and the variable to check; :class:`KafkaAccessError` carries it, and callers stop
instead of retrying, because a wrong password or CA does not heal by waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Any

from schemas.settings import Settings

# How long a client may take to reach the cluster before it gives up (kafka-python's
# bootstrap; the probes below). A refused login then shows within this bound, not never.
CONNECT_TIMEOUT_S = 10.0
POST_HANDSHAKE_WAIT_S = 1.0


class KafkaAccessError(Exception):
    """The cluster refused this client's TLS handshake or login; the message says why and what to set."""


def bootstrap_servers(settings: Settings) -> list[str]:
    return [host.strip() for host in settings.kafka_bootstrap.split(",") if host.strip()]


def uses_tls(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def uses_sasl(settings: Settings) -> bool:
    return settings.kafka_security_protocol.startswith("SASL_")


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of every client, or None without TLS."""
    if not uses_tls(settings):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if settings.kafka_ssl_certfile:
        password = settings.kafka_ssl_key_password.get_secret_value()
        context.load_cert_chain(  # a callable: OpenSSL never prompts on a terminal for an encrypted key
            str(settings.kafka_ssl_certfile),
            str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            lambda: password,
        )
    return context


def _sasl_options(settings: Settings) -> dict[str, Any]:
    if not uses_sasl(settings):
        return {}
    return {
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": settings.kafka_sasl_password.get_secret_value(),
    }


def kafka_python_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's ``KafkaProducer``/``KafkaConsumer``/``KafkaAdminClient``."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(settings),
        "security_protocol": settings.kafka_security_protocol,
        "bootstrap_timeout_ms": int(CONNECT_TIMEOUT_S * 1000),
        **_sasl_options(settings),
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    return options


def aiokafka_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka's ``AIOKafkaProducer``/``AIOKafkaConsumer``/``AIOKafkaClient``."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(settings),
        "security_protocol": settings.kafka_security_protocol,
        **_sasl_options(settings),
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    return options


def faust_config(settings: Settings) -> dict[str, Any]:
    """``broker`` and ``broker_credentials`` for ``faust.App``."""
    import faust

    credentials: Any = None
    if uses_sasl(settings):
        credentials = faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=ssl_context(settings),  # None: SASL_PLAINTEXT; a context: SASL_SSL
        )
    elif uses_tls(settings):
        credentials = faust.SSLCredentials(ssl_context(settings))
    return {
        "broker": [f"kafka://{host}" for host in bootstrap_servers(settings)],
        "broker_credentials": credentials,
    }


def _split(host_port: str) -> tuple[str, int]:
    host, _, port = host_port.rpartition(":")
    return host.strip("[]") or host_port, int(port or 9092)


def _tls_refusal(settings: Settings, host: str, port: int) -> str | None:
    """Why a TLS handshake with host:port fails with these settings, or None."""
    context = ssl_context(settings)
    assert context is not None
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:  # fmt: skip
            # With TLS 1.3 a broker refuses a client certificate after the handshake: wait
            # briefly for that alert or close (a Kafka broker sends nothing unasked otherwise).
            tls.settimeout(POST_HANDSHAKE_WAIT_S)
            with contextlib.suppress(TimeoutError):
                if tls.recv(1) == b"":
                    return _client_certificate_refused(settings, host, port, "closed after the handshake")
            return None
    except (ssl.SSLEOFError, ConnectionResetError) as exc:
        return _client_certificate_refused(settings, host, port, f"closed after the handshake: {exc}")
    except ssl.SSLCertVerificationError as exc:
        where = (f"CALLFLOOR_KAFKA_SSL_CAFILE={settings.kafka_ssl_cafile}" if settings.kafka_ssl_cafile
                 else "the system's CAs (set CALLFLOOR_KAFKA_SSL_CAFILE to the cluster's CA)")  # fmt: skip
        return (f"TLS: the certificate of the Kafka broker at {host}:{port} is not trusted "
                f"({exc.verify_message}); it was checked against {where}")  # fmt: skip
    except ssl.SSLError as exc:
        alert = str(exc.reason)
        if "CERTIFICATE_REQUIRED" in alert or alert.startswith(("TLSV1_ALERT", "SSLV3_ALERT")):
            return _client_certificate_refused(settings, host, port, alert)
        protocol = settings.kafka_security_protocol
        return (f"TLS handshake with the Kafka broker at {host}:{port} failed ({exc.reason or exc}); "
                f"is it a TLS listener? CALLFLOOR_KAFKA_SECURITY_PROTOCOL={protocol}")  # fmt: skip
    except OSError:
        return None  # not reachable at all: not a security refusal


def _client_certificate_refused(settings: Settings, host: str, port: int, how: str) -> str:
    """A broker that ends the connection at or right after the handshake refused the client's
    certificate, or its absence (a TLS 1.3 server may just close instead of alerting)."""
    if settings.kafka_ssl_certfile is None:
        return (f"TLS: the Kafka broker at {host}:{port} refused a client without a certificate ({how}); "
                "it most likely asks for one (mutual TLS): "
                "set CALLFLOOR_KAFKA_SSL_CERTFILE and CALLFLOOR_KAFKA_SSL_KEYFILE")  # fmt: skip
    return (f"TLS: the Kafka broker at {host}:{port} refused the client certificate "
            f"CALLFLOOR_KAFKA_SSL_CERTFILE={settings.kafka_ssl_certfile} ({how}): is it signed by a CA "
            "the broker trusts?")  # fmt: skip


async def _sasl_probe(settings: Settings) -> BaseException | None:
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(**aiokafka_config(settings), request_timeout_ms=int(CONNECT_TIMEOUT_S * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), CONNECT_TIMEOUT_S)
        return None
    except Exception as exc:  # noqa: BLE001 - classified by the caller
        return exc
    finally:
        await client.close()


def _sasl_refusal(settings: Settings) -> str | None:
    """Why a SASL login with these settings fails, or None when it succeeds or the cause is elsewhere."""
    from aiokafka.errors import KafkaConnectionError

    failure = asyncio.run(_sasl_probe(settings))
    if failure is None or isinstance(failure, (KafkaConnectionError, TimeoutError)) and not _is_sasl(failure):
        return None
    who = f"user {settings.kafka_sasl_username!r} with {settings.kafka_sasl_mechanism}"
    if isinstance(failure, KeyError):  # aiokafka's SCRAM: the server's final message has no proof
        detail = "the broker refused the SCRAM proof: unknown user or wrong password"
    else:
        detail = f"{type(failure).__name__}: {failure}"
    return (f"SASL: the Kafka cluster at {settings.kafka_bootstrap} refused the login of {who} ({detail}); "
            "check CALLFLOOR_KAFKA_SASL_USERNAME, CALLFLOOR_KAFKA_SASL_PASSWORD and "
            "CALLFLOOR_KAFKA_SASL_MECHANISM")  # fmt: skip


def _is_sasl(failure: BaseException) -> bool:
    name = type(failure).__name__
    return "Sasl" in name or "Authentication" in name


def explain_refusal(settings: Settings) -> str | None:
    """Why this cluster refuses these settings' TLS handshake or SASL login, or None (a plain
    outage, or no refusal). Blocking (a few seconds at most): call it from a thread in async code."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    servers = bootstrap_servers(settings)
    if uses_tls(settings):
        for server in servers:
            reason = _tls_refusal(settings, *_split(server))
            if reason:
                return reason
    return _sasl_refusal(settings) if uses_sasl(settings) else None


async def started(client: Any, settings: Settings) -> Any:
    """``await client.start()`` for an aiokafka producer or consumer; when it fails because the
    cluster refuses us, a :class:`KafkaAccessError` naming why (aiokafka itself does not)."""
    try:
        await client.start()
    except Exception as exc:
        with contextlib.suppress(Exception):
            await client.stop()
        reason = await asyncio.to_thread(explain_refusal, settings)
        if reason:
            raise KafkaAccessError(reason) from exc
        raise
    return client


def refusal_or(settings: Settings, failure: BaseException) -> BaseException:
    """A :class:`KafkaAccessError` naming why the cluster refused us, or ``failure`` itself."""
    reason = explain_refusal(settings)
    return KafkaAccessError(reason) if reason else failure
