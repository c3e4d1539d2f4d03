"""Authentication before the body, size limits, timeouts, bounded connections, and no raw input
in headers (issue 11, item 3). These run against the endpoint started with small limits."""

from __future__ import annotations

import gzip
import socket
import time

import pytest

from tests.attack.conftest import Endpoint
from tests.attack.raw import REFUSALS, Answer, build, call, exchange, read_answer, record
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
MiB = 2**20


def _connect(port: int, timeout_s: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout_s)


def test_unauthenticated_body_is_never_read(tight_endpoint: Endpoint) -> None:
    """A 50 MB unauthenticated body was accepted: now 401 arrives before any of it is sent."""
    port = tight_endpoint.port
    head = build(port, headers={"Content-Length": str(50 * MiB)})
    with _connect(port) as sock:
        sock.sendall(head)  # headers only: the server must answer without waiting for the body
        answer = record("POST 50 MB body, no token (headers only)", read_answer(sock))
    assert answer.status == 401


def test_body_over_the_limit(tight_endpoint: Endpoint) -> None:
    port, token = tight_endpoint.port, tight_endpoint.token
    with _connect(port) as sock:
        sock.sendall(build(port, headers={"Content-Length": str(2 * MiB)}, token=token))
        answer = record("POST 2 MiB declared body, limit 1 MiB", read_answer(sock))
    assert answer.status == 413 and "REQUEST_TOO_LARGE" in answer.text
    chunk = b"x" * (256 * 1024)
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5)) + b"0\r\n\r\n"
    data = build(port, headers={"Transfer-Encoding": "chunked"}, token=token).replace(
        b"Content-Length: 0\r\n", b""
    )
    chunked = record("POST 1.25 MiB chunked body, limit 1 MiB", exchange(port, data + body))
    assert chunked.status == 413


def test_compression_bomb(tight_endpoint: Endpoint) -> None:
    """12 KiB of gzip that inflates to 16 MiB: refused at the limit, never inflated whole."""
    bomb = gzip.compress(b"\0" * (16 * MiB))
    answer = record(
        "gzip bomb (16 MiB inflated), limit 1 MiB",
        exchange(
            tight_endpoint.port,
            build(
                tight_endpoint.port,
                body=bomb,
                headers={"Content-Encoding": "gzip"},
                token=tight_endpoint.token,
            ),
        ),
    )
    assert answer.status == 413


@pytest.mark.parametrize(
    ("name", "headers"),
    [
        ("negative Content-Length", {"Content-Length": "-1"}),
        ("Content-Length with a sign", {"Content-Length": "+5"}),
        ("non-numeric Content-Length", {"Content-Length": "12abc"}),
        ("Content-Length and chunked (smuggling)", {"Transfer-Encoding": "chunked"}),
        ("unknown Transfer-Encoding", {"Transfer-Encoding": "gzip, chunked"}),
    ],
)
def test_malformed_framing(tight_endpoint: Endpoint, name: str, headers: dict[str, str]) -> None:
    port = tight_endpoint.port
    data = build(port, token=tight_endpoint.token, body=b"SELECT 1", headers=headers)
    if "Content-Length" in headers:  # replace the honest length rather than send two
        data = data.replace(b"Content-Length: 8\r\n", b"")
    answer = record(name, exchange(port, data))
    assert answer.status in (400, 501), answer.text


def test_malformed_chunk_size(tight_endpoint: Endpoint) -> None:
    port = tight_endpoint.port
    data = build(port, headers={"Transfer-Encoding": "chunked"}, token=tight_endpoint.token)
    data = data.replace(b"Content-Length: 0\r\n", b"") + b"-5\r\nSELECT 1\r\n0\r\n\r\n"
    assert record("chunk size -5", exchange(port, data)).status == 400


@pytest.mark.parametrize(
    ("name", "request_bytes", "status"),
    [
        ("URL of 100 KB", b"GET /?query=" + b"1" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (
            "header line of 100 KB",
            b"GET /ping HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 100_000 + b"\r\n\r\n",
            431,
        ),
        ("201 headers", b"GET /ping HTTP/1.1\r\n" + b"X-A: a\r\n" * 201 + b"\r\n", 431),
        ("garbage request line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello\r\n\r\n", 400),
        ("PUT method", b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 501),
    ],
)
def test_oversized_and_malformed_requests(
    tight_endpoint: Endpoint, name: str, request_bytes: bytes, status: int
) -> None:
    answer = record(name, exchange(tight_endpoint.port, request_bytes))
    assert answer.status == status


def test_crlf_in_query_id_is_not_reflected(tight_endpoint: Endpoint) -> None:
    """CRLF injection of Set-Cookie through query_id worked: now it is refused, not echoed."""
    port = tight_endpoint.port
    evil = "x\r\nSet-Cookie: pwned=1"
    for token in (None, tight_endpoint.token):
        answer = record(
            f"CRLF in query_id ({'token' if token else 'no token'})",
            exchange(port, build(port, params={"query_id": evil}, body=b"SELECT 1", token=token)),
        )
        assert answer.status == 400
        assert b"Set-Cookie" not in answer.head and b"pwned" not in answer.head
        assert answer.headers["x-clickhouse-query-id"] != evil


def test_no_raw_input_in_any_header(tight_endpoint: Endpoint) -> None:
    port, token = tight_endpoint.port, tight_endpoint.token
    params = {
        "query_id": "ok-id.1",
        "session_timezone": "UTC\r\nX-Evil: 1",
        "default_format": "TSV\r\nX-Evil: 1",
    }
    answer = record(
        "CRLF in session_timezone and default_format",
        exchange(port, build(port, params=params, body=b"SELECT 1", token=token)),
    )
    assert b"X-Evil" not in answer.head
    assert answer.headers["x-clickhouse-query-id"] == "ok-id.1"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_idle_connections_bounded_in_count_and_time(tight_endpoint: Endpoint) -> None:
    """Four idle connections fill the limit: the fifth is told 503 at once; within the 5 s
    request timeout (and the watchdog's tick) the idle ones are closed and service resumes."""
    port = tight_endpoint.port
    idle = [_connect(port) for _ in range(4)]
    try:
        answers: list[int] = []

        def fifth_refused() -> Answer | None:
            """None while the server has not taken all four yet (a loaded machine)."""
            with _connect(port) as extra:
                extra.sendall(build(port, "GET", path="/ping"))
                answer = read_answer(extra)
            answers.append(answer.status)
            return answer if answer.status == 503 else None

        busy = wait_for(fifth_refused, 4.0, "a 5th connection to be refused with 503 (limit 4)", every_s=0.1,
                        progress=lambda: f"statuses {answers}")  # fmt: skip
        record("5th connection, limit 4", busy)
        started = time.monotonic()
        for sock in idle:
            sock.settimeout(30)
            assert sock.recv(1) == b"", "the server must close an idle connection"
        closed_after = time.monotonic() - started
        assert closed_after < 30
    finally:
        for sock in idle:
            sock.close()
    REFUSALS.append(f"{'4 idle connections':<48} -> closed by the server after {closed_after:.1f}s")
    assert call(port, "SELECT 1", tight_endpoint.token).body == b"1\n"


def test_slowloris_bounded_in_time(tight_endpoint: Endpoint) -> None:
    """Headers trickled one byte every 0.5 s (each read well inside the socket timeout) are cut
    off at the 5 s request deadline instead of holding a slot for ever."""
    port = tight_endpoint.port
    data = build(port, body=b"SELECT 1", token=tight_endpoint.token)
    started = time.monotonic()
    with _connect(port) as sock:
        sent = 0
        try:
            for byte in data:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.5)
                if time.monotonic() - started > 40:
                    break
            reply = sock.recv(1)
        except OSError:
            reply = b""
    elapsed = time.monotonic() - started
    REFUSALS.append(f"{'slowloris (1 byte / 0.5 s)':<48} -> cut off after {elapsed:.1f}s, {sent} bytes")
    assert reply == b"" and sent < len(data)
    assert elapsed < 40


def test_repeated_framing_headers_refused(tight_endpoint: Endpoint) -> None:
    """Two Content-Lengths (or Hosts) that disagree are how requests get smuggled."""
    port = tight_endpoint.port
    data = build(port, body=b"SELECT 1", token=tight_endpoint.token)
    twice = data.replace(b"Content-Length: 8\r\n", b"Content-Length: 8\r\nContent-Length: 0\r\n")
    assert record("two Content-Length headers", exchange(port, twice)).status == 400


def test_expect_100_continue_only_after_authentication(tight_endpoint: Endpoint) -> None:
    """curl sends `Expect: 100-continue` before a large body: no go-ahead without the token."""
    port = tight_endpoint.port
    head = build(port, headers={"Content-Length": str(512 * 1024), "Expect": "100-continue"})
    with _connect(port) as sock:
        sock.sendall(head)
        answer = record("Expect: 100-continue, no token", read_answer(sock))
    assert answer.status == 401
    with _connect(port) as sock:
        sock.sendall(build(port, headers={"Content-Length": "8", "Expect": "100-continue"},
                           token=tight_endpoint.token).replace(b"Content-Length: 0\r\n", b""))
        go_ahead = read_answer(sock)
        assert go_ahead.status == 100
        sock.sendall(b"SELECT 1")
        assert read_answer(sock).body == b"1\n"
