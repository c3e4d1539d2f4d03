"""``callfloor ingest --listen HOST:PORT``: CDRs that dialers POST as calls end.

What a POST may carry (any path; ``GET /health`` answers ``ok``):

- FreeSWITCH ``mod_json_cdr``: a form body ``cdr=<the JSON document>`` (its ``encode`` param
  ``true``, the default), ``cdr=<the document in base64>`` (``encode`` ``base64``), or the
  document itself (``encode`` ``false``), to its ``url`` with ``?uuid=...`` appended; values
  URL-encoded or not (``encode-values``): the format's adapter (``--format freeswitch-json``)
  reads them either way.
- Generic JSON (a cloud call centre's CDR callback): one object or an array of objects per
  POST, read by the ``--format`` adapter (``asterisk-json``: Asterisk's CDR variable names)
  with the ``--mapping`` file's rules for rep, team, campaign and statuses.

The answer is 200 only once Kafka has acknowledged every call and dead letter of the POST,
so a sender that retries on anything else (``mod_json_cdr``'s ``retries``/``delay``, then its
``err-log-dir``) loses nothing; a retry is sent again and the worker drops the copy. A record
that cannot be mapped is dead-lettered with the request's id (``X-Request-Id``, else
``mod_json_cdr``'s ``?uuid=``, else one made here) in a ``request_id`` header and in its
``source_file``; it is stored, so the POST still answers 200, saying how many were rejected.

Guards: binds 127.0.0.1 unless told otherwise, and refuses to bind anywhere else without
credentials (HTTP basic auth, what ``mod_json_cdr``'s ``cred`` sends, or a bearer token),
TLS or not (``CALLFLOOR_INGEST_LISTEN_CERT_FILE`` and ``_KEY_FILE`` serve HTTPS, Python's
``ssl`` with its default server settings: TLS 1.2 at least, no client certificate);
bodies beyond ``CALLFLOOR_INGEST_LISTEN_MAX_BODY_BYTES`` get 413; beyond
``CALLFLOOR_INGEST_LISTEN_MAX_REQUESTS`` requests at once, 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import ipaddress
import re
import signal
import ssl
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import orjson
from aiohttp import web
from pydantic import SecretStr

from ingest.live import Delivery, LiveMapper, acknowledged
from ingest.sources import SourceRecord
from schemas.settings import Settings

REQUEST_ID = re.compile(r"^[\w.:@/+=-]{1,128}$")  # a sender's id is kept only when it is this plain
FORM = "application/x-www-form-urlencoded"
BASE64_FORM = "application/x-www-form-base64-encoded"  # mod_json_cdr's encode=base64
KEEPALIVE_SECONDS = 30  # an idle keep-alive connection is closed after this


class ListenError(ValueError):
    """A ``--listen`` that must not start; the message says what to set."""


def parse_address(text: str) -> tuple[str, int]:
    """``PORT``, ``:PORT``, ``HOST:PORT`` or ``[V6]:PORT`` -> (host, port); no host means 127.0.0.1."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    host = host.strip().removeprefix("[").removesuffix("]") or "127.0.0.1"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ListenError(f"--listen {text!r}: expected HOST:PORT with a port from 1 to 65535")
    return host, int(port_text)


def journal_path(settings: Settings, address: str) -> Path:
    """``CALLFLOOR_DATA_DIR/ingest/listen-<host>-<port>.legs.jsonl``: the legs a restart must know."""
    host, port = parse_address(address)
    return settings.data_dir / "ingest" / f"listen-{host.replace(':', '_')}-{port}.legs.jsonl"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


REALM = "callfloor ingest"


@dataclass(frozen=True)
class Credentials:
    """Who may POST: basic auth (user and password) and/or a bearer token; nothing set, anyone."""

    user: str
    password: SecretStr
    token: SecretStr

    @classmethod
    def from_settings(cls, settings: Settings) -> Credentials:
        credentials = cls(settings.ingest_listen_user, settings.ingest_listen_password,
                          settings.ingest_listen_token)  # fmt: skip
        if bool(credentials.user) != bool(credentials.password.get_secret_value()):
            raise ListenError("basic auth needs both CALLFLOOR_INGEST_LISTEN_USER and "
                              "CALLFLOOR_INGEST_LISTEN_PASSWORD")  # fmt: skip
        return credentials

    @property
    def required(self) -> bool:
        return bool(self.user or self.token.get_secret_value())

    @property
    def challenges(self) -> list[str]:
        """The ``WWW-Authenticate`` values of a 401: one per scheme configured, so a client is
        asked for what will be accepted (a token-only feed does not ask for a password)."""
        schemes = (["Basic"] if self.user else []) + (["Bearer"] if self.token.get_secret_value() else [])
        return [f'{scheme} realm="{REALM}"' for scheme in schemes]

    def allow(self, authorization: str | None) -> bool:
        if not self.required:
            return True
        scheme, _, value = (authorization or "").partition(" ")
        scheme, value = scheme.lower(), value.strip()
        token = self.token.get_secret_value()
        if scheme == "bearer" and token:
            return hmac.compare_digest(value.encode(), token.encode())
        if scheme == "basic" and self.user:
            try:
                given = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return False
            expected = f"{self.user}:{self.password.get_secret_value()}".encode()
            return hmac.compare_digest(given, expected)
        return False


def server_tls(settings: Settings) -> ssl.SSLContext | None:
    """The HTTPS context of the configured certificate and key; None: plain HTTP. A certificate
    that does not load stops the start with what is wrong, never a prompt for a key password."""
    cert, key = settings.ingest_listen_cert_file, settings.ingest_listen_key_file
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ListenError("HTTPS needs both CALLFLOOR_INGEST_LISTEN_CERT_FILE (the certificate, PEM) and "
                          "CALLFLOOR_INGEST_LISTEN_KEY_FILE (its private key)")  # fmt: skip
    password = settings.ingest_listen_key_password
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(cert), str(key), password=password.get_secret_value)
    except OSError as exc:
        if isinstance(exc, ssl.SSLError):
            raise ListenError(
                f"the certificate {cert} does not load with the key {key} ({exc.reason or exc}: not PEM, "
                "a key of another certificate, or a wrong or missing CALLFLOOR_INGEST_LISTEN_KEY_PASSWORD)"
            ) from None
        raise ListenError(f"cannot read {exc.filename or cert}: {exc.strerror}") from None
    return context


def _unwrapped(body: bytes, content_type: str) -> tuple[bytes, str | None]:
    """The JSON text of a POST body, as ``mod_json_cdr`` sends it (its ``src/mod/event_handlers/
    mod_json_cdr/mod_json_cdr.c``): ``encode`` false, the document (``application/json``);
    true, ``cdr=`` and the document URL-encoded (``application/x-www-form-urlencoded``);
    ``base64``, ``cdr=`` and the document in base64, *not* URL-encoded
    (``application/x-www-form-base64-encoded``). A body that is JSON is JSON, whatever its type."""
    raw = body.strip()
    if raw[:1] in (b"{", b"["):
        return raw, None
    if content_type == BASE64_FORM:
        encoded = raw.removeprefix(b"cdr=")
    elif content_type == FORM or raw.startswith(b"cdr="):
        form = parse_qs(raw.decode("ascii", "replace"), keep_blank_values=True)
        if "cdr" not in form:
            return b"", f"a form without a 'cdr' field (fields: {', '.join(form) or 'none'})"
        encoded = form["cdr"][0].strip().encode()
        if encoded[:1] in (b"{", b"["):
            return encoded, None
    else:
        return raw, None
    try:
        return base64.b64decode(encoded, validate=True), None
    except (binascii.Error, ValueError):
        return b"", "the 'cdr' field is neither JSON nor base64"


def documents(body: bytes, content_type: str) -> list[tuple[int, bytes, str | None]]:
    """(position, bytes, problem) of each CDR document a POST carries (position 1.. in an array)."""
    raw, problem = _unwrapped(body, content_type)
    if problem is not None:
        return [(1, body, problem)]
    if not raw:
        return [(1, body, "an empty body")]
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return [(1, body, f"not JSON: {exc}")]
    if isinstance(document, list):
        return [(n, orjson.dumps(item), None) for n, item in enumerate(document, 1)]
    return [(1, raw, None)]


def request_id(request: web.Request) -> str:
    """The sender's ``X-Request-Id``, else ``mod_json_cdr``'s ``?uuid=`` (the leg's uuid), else a new one."""
    for given in (request.headers.get("X-Request-Id", ""), request.query.get("uuid", "")):
        if REQUEST_ID.fullmatch(given.strip()):
            return given.strip()
    return uuid.uuid4().hex


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(
    mapper: LiveMapper, credentials: Credentials, *, max_body: int, max_requests: int
) -> web.Application:
    in_flight = 0

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal in_flight
        if request.path == "/health" and request.method == "GET":
            return await handler(request)
        if not credentials.allow(request.headers.get("Authorization")):
            challenge = [("WWW-Authenticate", value) for value in credentials.challenges]
            return web.json_response({"error": "credentials required"}, status=401, headers=challenge)
        if in_flight >= max_requests:
            return web.json_response({"error": "busy, retry"}, status=503, headers={"Retry-After": "1"})
        in_flight += 1
        try:
            return await handler(request)
        finally:
            in_flight -= 1

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def receive(request: web.Request) -> web.Response:
        rid = request_id(request)
        body = await request.read()  # beyond client_max_size: 413, from aiohttp
        delivery = Delivery(origin=f"request {rid}")
        headers = [("request_id", rid.encode())]
        try:
            for line, raw, problem in documents(body, request.content_type):
                if problem is not None:
                    mapper.send(delivery, SourceRecord(delivery.origin, line, raw, problem=problem), headers)
                    continue
                for record in mapper.records(raw, delivery.origin, line):
                    mapper.send(delivery, record, headers)
            errors = await acknowledged(delivery.futures)
        except Exception as exc:  # noqa: BLE001 - Kafka refused at send time: the sender retries
            errors = [exc]
        if errors:
            print(
                f"callfloor ingest: {delivery.origin}: not stored, answered 503: {errors[0]!r}",
                file=sys.stderr,
            )
            return web.json_response({"error": "not stored in Kafka; retry", "request_id": rid}, status=503,
                                     headers={"Retry-After": "1"})  # fmt: skip
        return web.json_response({"request_id": rid, "calls": delivery.calls, "rejected": delivery.rejected},
                                 headers={"X-Request-Id": rid})  # fmt: skip

    app = web.Application(middlewares=[guard], client_max_size=max_body)
    app.router.add_get("/health", health)
    app.router.add_post("/{path:.*}", receive)
    return app


async def serve(app: web.Application, host: str, port: int, stop: asyncio.Event, *, backlog: int,
                tls: ssl.SSLContext | None = None) -> None:  # fmt: skip
    """Serve until ``stop``; then finish the requests in flight (their acks included)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=30,
                           keepalive_timeout=KEEPALIVE_SECONDS)  # fmt: skip
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, backlog=backlog, reuse_address=True, ssl_context=tls)
        await site.start()
        shown = f"[{host}]" if ":" in host else host
        scheme = "https" if tls is not None else "http"
        print(
            f"callfloor ingest: listening on {scheme}://{shown}:{port}/ (POST CDRs; Ctrl-C stops)",
            file=sys.stderr,
        )
        await stop.wait()
    finally:
        await runner.cleanup()


def listen(settings: Settings, address: str, mapper: LiveMapper) -> None:
    """Run the receiver until SIGINT/SIGTERM; raise :class:`ListenError` when it must not start."""
    host, port = parse_address(address)
    credentials = Credentials.from_settings(settings)
    if not is_loopback(host) and not credentials.required:
        raise ListenError(
            f"--listen {address}: binding beyond this machine needs credentials: set "
            "CALLFLOOR_INGEST_LISTEN_USER and CALLFLOOR_INGEST_LISTEN_PASSWORD (mod_json_cdr's cred) "
            "or CALLFLOOR_INGEST_LISTEN_TOKEN (Authorization: Bearer)"
        )
    tls = server_tls(settings)
    app = make_app(mapper, credentials, max_body=settings.ingest_listen_max_body_bytes,
                   max_requests=settings.ingest_listen_max_requests)  # fmt: skip

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(app, host, port, stop, backlog=settings.ingest_listen_max_requests, tls=tls)

    try:
        asyncio.run(main())
    except OSError as exc:
        raise ListenError(f"--listen {address}: cannot bind: {exc.strerror or exc}") from None
