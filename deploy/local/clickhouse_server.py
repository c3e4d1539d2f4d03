"""ClickHouse's HTTP interface served over an in-process chdb session.

Every component talks to ClickHouse with clickhouse-connect over HTTP; locally the engine is chdb
(ClickHouse in-process), and a chdb data directory can only be opened by one process. This module
is that one process: it owns the chdb session and answers clickhouse-connect unmodified.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import gzip
import hmac
import ipaddress
import json
import logging
import re
import signal
import socket
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import lz4.frame
from chdb import session as chdb_session

try:  # zstd ships with clickhouse-connect (backports.zstd); brotli is optional
    from backports import zstd
except ImportError:  # pragma: no cover
    zstd = None

logger = logging.getLogger(__name__)

# fmt: off
# URL parameters that steer the HTTP exchange rather than the query: never SET in the session.
TRANSPORT_PARAMS = frozenset({
    "query", "database", "default_format", "user", "password", "query_id", "quota_key",
    "session_id", "session_timeout", "session_check", "wait_end_of_query", "buffer_size",
    "compress", "decompress", "client_protocol_version", "role", "stacktrace",
    "enable_http_compression", "http_zlib_compression_level", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "cancel_http_readonly_queries_on_client_close",
    "http_native_compression_disable_checksumming_on_decompress",
})
RESULT_KEYWORDS = frozenset({"SELECT", "WITH", "SHOW", "DESC", "DESCRIBE", "EXISTS", "EXPLAIN"})
# HTTP status per ClickHouse error code, as the real server maps them (default 500).
HTTP_STATUS = (dict.fromkeys((6, 27, 36, 47, 62, 115), 400) | dict.fromkeys((46, 60, 81), 404)
               | {48: 501, 516: 401})
_ERROR_NAMES = {48: "NOT_IMPLEMENTED", 62: "SYNTAX_ERROR", 89: "UNKNOWN_COMPRESSION_METHOD",
                115: "UNKNOWN_SETTING", 271: "CANNOT_DECOMPRESS", 516: "AUTHENTICATION_FAILED",
                1001: "STD_EXCEPTION"}
# fmt: on
_INSERT_HEAD = re.compile(rb"\s*(INSERT\s+INTO\s.*?)\s+FORMAT\s+(\w+)[ \t]*(?:\r?\n)?", re.I | re.S)
_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*\n?|/\*.*?\*/|\()*(\w+)", re.S)
_FORMAT = re.compile(r"\bFORMAT\s+(\w+)", re.I)
_CODE = re.compile(r"Code: (\d+)\. ")
_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ClickHouseError(Exception):
    """An error to report the way ClickHouse does: `Code: N. DB::Exception: ...`."""

    def __init__(self, code: int, text: str, status: int | None = None) -> None:
        super().__init__(text)
        self.code, self.text = code, text
        self.status = status or HTTP_STATUS.get(code, 500)

    @classmethod
    def make(cls, code: int, message: str, status: int | None = None) -> ClickHouseError:
        name = _ERROR_NAMES.get(code, "")
        return cls(code, f"Code: {code}. DB::Exception: {message}. ({name})", status)

    @classmethod
    def from_engine(cls, exc: Exception) -> ClickHouseError:
        """chdb messages already read `Code: N. DB::Exception: ...`, maybe behind a prefix."""
        text = str(exc)
        match = _CODE.search(text)
        if match is None:
            return cls.make(1001, text or type(exc).__name__)
        return cls(int(match.group(1)), text[match.start() :])


@dataclass
class Reply:
    """What one query produced, ready to become an HTTP 200 response."""

    body: bytes = b""
    result_format: str | None = None  # set for statements that produce a result set
    summary: dict[str, str] = field(default_factory=dict)


def quote_ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def decompress(data: bytes, encoding: str | None) -> bytes:
    """Undo the request's Content-Encoding (clickhouse-connect's default is lz4 frames)."""
    enc = (encoding or "identity").strip().lower()
    if enc == "identity" or not data:
        return data
    decoders = {"lz4": _lz4_frames, "gzip": gzip.decompress, "deflate": zlib.decompress}
    if zstd is not None:
        decoders["zstd"] = zstd.decompress
    if enc not in decoders:
        raise ClickHouseError.make(89, f"Unsupported Content-Encoding: {enc}")
    try:
        return decoders[enc](data)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the client's bad body
        raise ClickHouseError.make(271, f"Cannot decompress {enc} request body: {exc}") from None


def _lz4_frames(data: bytes) -> bytes:
    """Decode concatenated lz4 frames: the client compresses every Native block separately."""
    out = []
    while data:
        frame = lz4.frame.LZ4FrameDecompressor()
        out.append(frame.decompress(data))
        if not frame.eof:
            raise ValueError("truncated lz4 frame")
        data = frame.unused_data or b""
    return b"".join(out)


def form_fields(body: bytes, content_type: str) -> dict[str, str]:
    """multipart/form-data fields (the client uses them when bind parameters are long)."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    for part in msg.iter_parts():
        if part.get_filename():
            raise ClickHouseError.make(48, "External data (file parts) is not supported")
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = (part.get_payload(decode=True) or b"").decode()
    return fields


def split_statement(query: str, body: bytes) -> tuple[str, str | None, bytes]:
    """Return (sql, insert_format, data); insert_format is set for `INSERT ... FORMAT X` + data."""
    head = query.encode() if query else body
    match = _INSERT_HEAD.match(head, 0, 65536)
    if match and not re.search(rb"\bSELECT\b", match.group(1), re.I):
        data = head[match.end() :] + body if query else body[match.end() :]
        return match.group(1).decode(), match.group(2).decode(), data
    if query:
        return (query + "\n" + body.decode()) if body else query, None, b""
    return body.decode(), None, b""


def result_format(sql: str, default: str) -> str | None:
    """The output format ClickHouse would announce, or None for statements without a result."""
    first = _FIRST_WORD.match(sql)
    if first is None or first.group(1).upper() not in RESULT_KEYWORDS:
        return None
    formats = _FORMAT.findall(sql)
    return formats[-1] if formats else default


class Engine:
    """The chdb session. One lock serializes queries: USE/SET state is per session, not per call."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        try:
            self._session: Any = chdb_session.Session(str(path))
        except RuntimeError as exc:
            raise RuntimeError(
                f"cannot open ClickHouse data directory {path}: is another server using it? ({exc})"
            ) from exc
        self._lock = threading.Lock()
        self._applied: dict[str, str] = {}
        version, tz = self._session.query("SELECT version(), timezone()", "TSV").bytes().split()
        self.version, self.timezone = version.decode(), tz.decode()

    def execute(self, params: dict[str, str], body: bytes) -> Reply:
        """Run one HTTP request's statement with its database, settings and bind parameters."""
        sql, insert_format, data = split_statement(params.get("query", ""), body)
        if not sql.strip():
            raise ClickHouseError.make(62, "Empty query")
        binds = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        settings = {
            k: v
            for k, v in params.items()
            if k not in TRANSPORT_PARAMS and not k.startswith("param_")
        }
        with self._lock:
            if self._session is None:
                raise ClickHouseError.make(1001, "Server is shutting down")
            try:
                self._session.query(f"USE {quote_ident(params.get('database') or 'default')}")
                self._apply_settings(settings)
                if insert_format is not None:
                    return self._insert(sql, insert_format, data)
                fmt = params.get("default_format", "TabSeparated")
                result = self._session.query(sql, fmt, params=binds)
                return Reply(result.bytes(), result_format(sql, fmt), self._summary(result))
            except ClickHouseError:
                raise
            except Exception as exc:  # noqa: BLE001 - chdb raises plain exceptions; answer as ClickHouse would
                raise ClickHouseError.from_engine(exc) from None

    def _apply_settings(self, wanted: dict[str, str]) -> None:
        """SET only what differs from the previous request; reset what it no longer asks for."""
        for name in [n for n in self._applied if n not in wanted]:
            self._session.query(f"SET {name} = DEFAULT")
            del self._applied[name]
        for name, value in wanted.items():
            if not _SETTING_NAME.fullmatch(name):
                raise ClickHouseError.make(115, f"Unknown setting '{name}'")
            if name == "readonly":  # a session-wide readonly could never be reset again
                raise ClickHouseError.make(48, "Setting readonly is not supported by this server")
            if self._applied.get(name) != value:
                self._session.query(f"SET {name} = {quote_str(value)}")
                self._applied[name] = value

    def _insert(self, target: str, fmt: str, data: bytes) -> Reply:
        """Stream the payload into chdb as the given input format (no temp file needed)."""
        with self._session.send_insert(target, fmt) as inserter:
            if data:
                inserter.append(data)
            done = inserter.finish()
        return Reply(
            summary={
                "written_rows": str(done.rows_written),
                "written_bytes": str(done.bytes_written),
            }
        )

    @staticmethod
    def _summary(result: Any) -> dict[str, str]:
        return {
            "read_rows": str(result.rows_read()),
            "read_bytes": str(result.bytes_read()),
            "written_rows": str(result.rows_written()),
            "written_bytes": str(result.bytes_written()),
            "elapsed_ns": str(int(result.elapsed() * 1e9)),
        }

    @property
    def session_timezone(self) -> str:
        return self._applied.get("session_timezone") or self.timezone

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], engine: Engine, user: str, password: str, delay_ms: int = 0
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.engine, self.user, self.password = engine, user, password
        self.delay_s = delay_ms / 1000
        self.display_name = socket.gethostname()
        super().__init__(address, _Handler)

    def authenticate(self, headers: Any, params: dict[str, str]) -> None:
        """Accept Basic auth, X-ClickHouse-User/Key headers or user/password URL params."""
        user, password = params.get("user", "default"), params.get("password", "")
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
        elif headers.get("X-ClickHouse-User"):
            user, password = headers["X-ClickHouse-User"], headers.get("X-ClickHouse-Key", "")
        ok_user = hmac.compare_digest(user.encode(), self.user.encode())
        if not (hmac.compare_digest(password.encode(), self.password.encode()) and ok_user):
            reason = "password is incorrect, or there is no user with such name"
            raise ClickHouseError.make(516, f"{user}: Authentication failed: {reason}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        query_id = params.get("query_id") or str(uuid.uuid4())
        try:
            body = self._read_body()
            if url.path == "/ping" or (url.path == "/" and not body and "query" not in params):
                return self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            if url.path != "/":
                raise ClickHouseError.make(1001, f"There is no handle {url.path}", status=404)
            self.server.authenticate(self.headers, params)
            body = decompress(body, self.headers.get("Content-Encoding"))
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                params.update(form_fields(body, content_type))
                body = b""
            if self.server.delay_s:  # injected latency (tests of a slow sink), not under the lock
                time.sleep(self.server.delay_s)
            reply = self.server.engine.execute(params, body)
        except ClickHouseError as exc:
            return self._send_error(exc, query_id)
        except Exception as exc:
            logger.exception("unexpected error serving ClickHouse request")
            self.close_connection = True  # the request body may be half read
            return self._send_error(ClickHouseError.make(1001, str(exc)), query_id)
        headers = self._common_headers(query_id)
        headers["X-ClickHouse-Summary"] = json.dumps(reply.summary)
        headers["Content-Type"] = "application/octet-stream" if reply.body else "text/plain"
        if reply.result_format:
            headers["X-ClickHouse-Format"] = reply.result_format
        self._send(200, reply.body, headers)

    def _read_body(self) -> bytes:
        """Read a Content-Length or chunked body (clickhouse-connect streams inserts chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = []
        while size := int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            if len(parts[-1]) != size:
                raise ConnectionError("truncated chunked request body")
            self.rfile.readline(1024)
        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def _common_headers(self, query_id: str) -> dict[str, str]:
        return {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self.server.engine.session_timezone,
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
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Log without query strings: they may carry a password."""
        logger.debug("%s %s", self.address_string(), re.sub(r"\?\S*", "?...", format % args))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmbeddedClickHouse:
    """Owns the chdb session and the HTTP server in front of it.

    ``delay_ms`` makes every query and insert wait that long before it runs (``/ping``
    does not): a slow ClickHouse on demand, for tests of back-pressure and timeouts.
    """

    def __init__(
        self,
        path: Path,
        host: str = "127.0.0.1",
        port: int = 8123,
        user: str = "default",
        password: str = "",
        delay_ms: int = 0,
    ) -> None:
        if delay_ms < 0:
            raise ValueError(f"delay_ms must be >= 0, got {delay_ms}")
        if not password and not is_loopback(host):
            raise ValueError(
                f"refusing to serve ClickHouse on non-loopback host {host!r} without a password: "
                "configure a password, or bind 127.0.0.1"
            )
        self.path, self.host, self.port = Path(path), host, port
        self._user, self._password = user, password
        self.delay_ms = delay_ms
        self._engine: Engine | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._serving = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _open(self) -> _HTTPServer:
        """Open the data directory, then bind: the port accepts connections once this returns."""
        if self._httpd is None:
            self._engine = Engine(self.path)
            try:
                self._httpd = _HTTPServer(
                    (self.host, self.port), self._engine, self._user, self._password, self.delay_ms
                )
            except OSError:
                self._engine.close()
                raise
            self.port = self._httpd.server_address[1]
            delay = f" (every query delayed {self.delay_ms} ms)" if self.delay_ms else ""
            logger.info("ClickHouse %s over HTTP on %s%s", self._engine.version, self.url, delay)
        return self._httpd

    def start(self) -> None:
        """Serve from a background thread; returns once the port accepts connections."""
        httpd = self._open()
        if not self._serving:
            self._serving = True
            self._thread = threading.Thread(
                target=httpd.serve_forever, name="clickhouse-http", daemon=True
            )
            self._thread.start()

    def serve_forever(self) -> None:
        """Serve in this thread until stop() is called from another thread."""
        httpd = self._open()
        self._serving = True
        httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving, then close the chdb session (after any running query). Idempotent."""
        if self._httpd is not None:
            if self._serving:
                self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd, self._serving = None, False
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def serve(path: Path, host: str, port: int, user: str, password: str, delay_ms: int = 0) -> None:
    """Serve until SIGTERM/SIGINT, then close the server and the chdb session cleanly.

    ``delay_ms`` > 0 delays every query and insert by that much (see EmbeddedClickHouse).
    """
    server = EmbeddedClickHouse(path, host, port, user, password, delay_ms)
    stop_requested = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop_requested.set())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        server.start()
        while not stop_requested.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
