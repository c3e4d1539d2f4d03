"""The HTTP front of the embedded endpoint: who may talk to it, and how much.

Order per request: the query id is checked, then the browser checks (no `Origin`, a `Host`
that is the served address), then credentials (password or the per-install token), and only
then is the body read, up to a size limit. Connections are bounded in number (beyond the
limit a connection gets 503 at once) and in time (a socket timeout per read, and a deadline
for a whole request to arrive, enforced by a watchdog that closes late sockets).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import logging
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from deploy.local.clickhouse.protocol import (
    ClickHouseError,
    Reply,
    decompress,
    form_fields,
    refused,
    too_large,
)
from schemas.served_hosts import host_names_this_server, served_host_names

logger = logging.getLogger(__name__)
_QUERY_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")


@dataclass(frozen=True)
class Limits:
    """What one client may take: body size, connections, and time to send a request."""

    max_body_bytes: int = 256 * 2**20
    max_connections: int = 256
    idle_timeout_s: float = 10.0  # longest wait for any one read or write on a socket (keep-alive too)
    request_timeout_s: float = 60.0  # a request's line, headers and body must arrive within this

    @classmethod
    def from_flags(
        cls, max_body_mb: int | None, max_connections: int | None, request_timeout_s: float | None
    ) -> Limits:
        """The defaults, with the CLI's flags that were given on top."""
        limits = cls()
        if max_body_mb is not None:
            limits = replace(limits, max_body_bytes=max_body_mb * 2**20)
        if max_connections is not None:
            limits = replace(limits, max_connections=max_connections)
        if request_timeout_s is not None:
            idle = min(limits.idle_timeout_s, request_timeout_s)
            limits = replace(limits, request_timeout_s=request_timeout_s, idle_timeout_s=idle)
        return limits


@dataclass(frozen=True)
class Credentials:
    """The user, and the secret it must present: the configured password, else the token."""

    user: str
    secret: str
    token_file: str = ""  # set when the secret is the token; the 401 says so without naming the file


class QueryEngine(Protocol):
    """What the endpoint asks of an engine: the in-process :class:`~deploy.local.clickhouse.engine.Engine`
    or the confined :class:`~deploy.local.clickhouse.sandbox.SandboxedEngine`."""

    version: str
    timezone: str

    def execute(self, params: dict[str, str], body: bytes, *, read_only: bool) -> Reply: ...
    def close(self) -> None: ...


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], engine: QueryEngine, credentials: Credentials,
        limits: Limits, delay_ms: int = 0,
    ) -> None:  # fmt: skip
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.engine, self.credentials, self.limits = engine, credentials, limits
        self.delay_s = delay_ms / 1000
        self.display_name = socket.gethostname()
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        self._deadlines: dict[socket.socket, float] = {}
        self._deadlines_lock = threading.Lock()
        self._closing = threading.Event()
        super().__init__(address, _Handler)
        # None (any Host) for a wildcard bind, which EmbeddedClickHouse allows only with a password
        self.allowed_hosts = served_host_names(address[0], self.server_address[1])
        threading.Thread(target=self._watchdog, name="clickhouse-http-watchdog", daemon=True).start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Start a thread for the connection if a slot is free; otherwise answer 503 and close."""
        if not self._slots.acquire(blocking=False):
            _refuse_busy(request, self.limits.max_connections)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.unwatch(request)
            self._slots.release()

    def watch(self, sock: socket.socket) -> None:
        """The next request on ``sock`` must have fully arrived within request_timeout_s."""
        with self._deadlines_lock:
            self._deadlines[sock] = time.monotonic() + self.limits.request_timeout_s

    def unwatch(self, sock: socket.socket) -> None:
        with self._deadlines_lock:
            self._deadlines.pop(sock, None)

    def _watchdog(self) -> None:
        while not self._closing.wait(min(1.0, self.limits.request_timeout_s / 4)):
            now = time.monotonic()
            with self._deadlines_lock:
                late = [s for s, deadline in self._deadlines.items() if deadline < now]
                for sock in late:
                    del self._deadlines[sock]
            for sock in late:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # the handler's blocked read returns at once

    def server_close(self) -> None:
        self._closing.set()
        super().server_close()

    def authenticate(self, headers: Any, params: dict[str, str]) -> None:
        """Accept Basic auth, X-ClickHouse-User/Key headers or user/password URL params."""
        user, password = params.get("user", "default"), params.get("password", "")
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
        elif headers.get("X-ClickHouse-User") or headers.get("X-ClickHouse-Key"):
            user, password = headers.get("X-ClickHouse-User", "default"), headers.get("X-ClickHouse-Key", "")
        expected = self.credentials
        ok_user = hmac.compare_digest(user.encode(), expected.user.encode())
        if hmac.compare_digest(password.encode(), expected.secret.encode()) and ok_user:
            return
        if expected.token_file:  # the user name is not echoed: it may be a misplaced secret
            raise ClickHouseError.make(
                516, "Authentication failed: this endpoint needs its per-install token "
                "(printed by `callfloor demo`) as the password, or a configured password",
            )  # fmt: skip
        reason = "password is incorrect, or there is no user with such name"
        raise ClickHouseError.make(516, f"Authentication failed: {reason}")


def _refuse_busy(request: socket.socket, limit: int) -> None:
    body = f"Code: 202. DB::Exception: Too many connections (limit {limit}). (TOO_MANY_SIMULTANEOUS_QUERIES)"
    body += "\n"
    head = f"HTTP/1.1 503 Service Unavailable\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    try:
        request.settimeout(1.0)
        request.sendall((head + body).encode())
    except OSError:
        pass


# http.server reads at most http.client._MAXHEADERS headers, a module global that other libraries
# raise (clickhouse-connect sets 10,000 on import); the endpoint keeps its own limit.
MAX_HEADERS = 100


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if len(self.headers) > MAX_HEADERS:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
            return False
        return True

    def setup(self) -> None:
        # socketserver reads the idle timeout from the handler: this server's own, per connection
        self.timeout = self.server.limits.idle_timeout_s  # type: ignore[misc]
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.watch(self.connection)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        self._body_read = False
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        query_id = str(uuid.uuid4())
        try:
            query_id = self._query_id(params, query_id)
            self._check_browser()
            if url.path == "/ping":
                return self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            if url.path != "/":
                raise ClickHouseError.make(1001, "There is no such handle", status=404)
            if self.command == "GET" and "query" not in params:
                return self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            self.server.authenticate(self.headers, params)
            body = self._read_body(self.server.limits.max_body_bytes)
            body = decompress(body, self.headers.get("Content-Encoding"), self.server.limits.max_body_bytes)
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                params.update(form_fields(body, content_type))
                body = b""
            self.server.unwatch(self.connection)  # the query itself may take as long as it takes
            if self.server.delay_s:  # injected latency (tests of a slow sink), not under the lock
                time.sleep(self.server.delay_s)
            reply = self.server.engine.execute(params, body, read_only=self.command == "GET")
        except ClickHouseError as exc:
            return self._send_error(exc, query_id)
        except OSError:  # a timed-out, reset or truncated connection: nobody to answer
            self.close_connection = True
            return None
        except Exception as exc:
            logger.exception("unexpected error serving ClickHouse request")
            self.close_connection = True  # the request body may be half read
            return self._send_error(ClickHouseError.make(1001, type(exc).__name__), query_id)
        headers = self._common_headers(query_id, reply.timezone)
        headers["X-ClickHouse-Summary"] = json.dumps(reply.summary)
        headers["Content-Type"] = "application/octet-stream" if reply.body else "text/plain"
        if reply.result_format:
            headers["X-ClickHouse-Format"] = reply.result_format
        self._send(200, reply.body, headers)

    @staticmethod
    def _query_id(params: dict[str, str], generated: str) -> str:
        """The client's query id if it is a plain token; headers never carry raw input."""
        wanted = params.get("query_id")
        if wanted is None or wanted == "":
            return generated
        if not _QUERY_ID.fullmatch(wanted):
            raise ClickHouseError.make(36, "query_id may only hold letters, digits and ._:- (128 at most)")
        return wanted

    def _check_browser(self) -> None:
        """Refuse what a web page can send: an Origin, a cross-site fetch, a foreign Host."""
        if self.headers.get("Origin") is not None:
            raise refused("requests from web pages (with an Origin header) are not served")
        if self.headers.get("Sec-Fetch-Site", "none") not in ("none", "same-origin"):
            raise refused("cross-site requests from a browser are not served")
        host = self.headers.get("Host")
        if host is None:
            raise ClickHouseError.make(36, "a Host header is required", status=400)
        if not host_names_this_server(host, self.server.allowed_hosts):
            raise refused("the Host header does not name this server")

    def _read_body(self, limit: int) -> bytes:
        """Read a Content-Length or chunked body (clickhouse-connect streams inserts chunked),
        refusing ambiguous framing and anything over ``limit`` bytes."""
        encoding = self.headers.get("Transfer-Encoding")
        length = self.headers.get("Content-Length")
        if encoding is not None and length is not None:
            raise ClickHouseError.make(36, "both Content-Length and Transfer-Encoding", status=400)
        if len(self.headers.get_all("Content-Length", [])) > 1 or len(self.headers.get_all("Host", [])) > 1:
            raise ClickHouseError.make(36, "repeated Content-Length or Host header", status=400)
        if encoding is not None:
            if encoding.strip().lower() != "chunked":
                raise ClickHouseError.make(48, "only chunked Transfer-Encoding is supported")
            self._continue()
            body = self._read_chunked(limit)
        else:
            text = (length or "0").strip()
            if not (text.isascii() and text.isdigit()):
                raise ClickHouseError.make(36, "Content-Length must be a non-negative integer", status=400)
            if int(text) > limit:
                raise too_large(limit)
            self._continue()
            body = self.rfile.read(int(text))
            if len(body) != int(text):
                raise ConnectionError("request body shorter than its Content-Length")
        self._body_read = True
        return body

    def handle_expect_100(self) -> bool:
        """Defer `Expect: 100-continue` (curl sends it for large bodies) until the request is
        authenticated and its size accepted: see _continue."""
        return True

    def _continue(self) -> None:
        if self.headers.get("Expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()

    def _read_chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_text = self.rfile.readline(1024).split(b";")[0].strip()
            if not _CHUNK_SIZE.fullmatch(size_text):
                raise ClickHouseError.make(36, "malformed chunk size", status=400)
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > limit:
                raise too_large(limit)
            parts.append(self.rfile.read(size))
            if len(parts[-1]) != size:
                raise ConnectionError("truncated chunked request body")
            self.rfile.readline(1024)
        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def _common_headers(self, query_id: str, timezone: str = "") -> dict[str, str]:
        return {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": timezone or self.server.engine.timezone,
            "X-ClickHouse-Server-Display-Name": self.server.display_name,
        }

    def _send_error(self, exc: ClickHouseError, query_id: str) -> None:
        text = exc.text
        if "(version " not in text:
            text += f" (version {self.server.engine.version})"
        headers = self._common_headers(query_id)
        headers["X-ClickHouse-Exception-Code"] = str(exc.code)
        headers["Content-Type"] = "text/plain; charset=UTF-8"
        self._send(exc.status, (text + "\n").encode(), headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        has_body = self.headers.get("Transfer-Encoding") or self.headers.get("Content-Length", "0") != "0"
        if has_body and not self._body_read:
            self.close_connection = True  # an unread body must not be taken for the next request
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        # head and body in one write: BaseHTTPRequestHandler's head buffer, which typeshed omits
        self._headers_buffer.append(b"\r\n" + body)  # type: ignore[attr-defined]
        self.flush_headers()
        self.server.watch(self.connection)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (URL or headers too long, bad request line, unknown method)
        as plain text that does not echo the request, with a status line even for HTTP/0.9."""
        self.close_connection = True
        self.request_version = "HTTP/1.1"
        phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
        body = f"Code: 1001. DB::Exception: HTTP {code} {phrase}. (STD_EXCEPTION)\n".encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Log without query strings: they may carry a password."""
        logger.debug("%s %s", self.address_string(), re.sub(r"\?\S*", "?...", format % args))
