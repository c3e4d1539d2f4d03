"""A web page cannot read the wallboard through DNS rebinding, a browser's icon request is
answered, every answer (errors included) carries the security headers, and a client can make
the board keep neither a filter per request nor connections without bound (a real
``callfloor wallboard`` over raw HTTP; no broker needed to serve)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiohttp import web

from schemas.settings import Settings
from tests.attack.raw import Answer, build, exchange, record
from tests.integration.wallboard_page import running_wallboard
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from wallboard.guard import SECURITY_HEADERS, GuardedRunner
from wallboard.server import Wallboard

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wallboard_port(logs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    # a broker nobody listens on: the page is served anyway (its banner says NOT LIVE)
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}", wallboard_port=free_port(),
                        data_dir=tmp_path_factory.mktemp("wallboard-http"))  # fmt: skip
    with running_wallboard(settings, logs_dir / "attack-wallboard.log"):
        yield settings.wallboard_port


def get(port: int, path: str, host: str) -> Answer:
    data = build(port, "GET", path=path).replace(f"Host: 127.0.0.1:{port}".encode(), f"Host: {host}".encode())
    return exchange(port, data)


FOREIGN = ["evil.example", "evil.example:{port}", "127.0.0.2:{port}", "127.0.0.1:1", ""]


@pytest.mark.parametrize("path", ["/", "/api/floor", "/events", "/app.js"])
@pytest.mark.parametrize("host", FOREIGN)
def test_a_foreign_host_is_refused(wallboard_port: int, path: str, host: str) -> None:
    """DNS rebinding: the attacker's name resolves to 127.0.0.1, so Host names the attacker."""
    answer = record(f"wallboard GET {path} with Host: {host!r}",
                    get(wallboard_port, path, host.format(port=wallboard_port)))  # fmt: skip
    assert answer.status == 403 and "Host" in answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "127.0.0.1"])
def test_the_served_names_are_answered(wallboard_port: int, host: str) -> None:
    answer = get(wallboard_port, "/api/floor", host.format(port=wallboard_port))
    assert answer.status == 200 and answer.body.startswith(b"{")


def test_the_icon_request_is_not_a_404(wallboard_port: int) -> None:
    answer = get(wallboard_port, "/favicon.ico", f"127.0.0.1:{wallboard_port}")
    assert answer.status == 204 and answer.body == b""
    assert "max-age" in answer.headers["cache-control"]


# --- issue 21.4: the security headers on every answer, and what a client can make the board keep ---

def assert_security_headers(answer: Answer) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get(name.lower()) == value, f"{name} on a {answer.status}: {answer.head!r}"


def raw_request(start: str, *headers: str) -> bytes:
    """A request line and headers as sent, Host naming the wallboard (port filled in later)."""
    return "\r\n".join([start, "Host: 127.0.0.1:{port}", *headers, "", ""]).encode("latin-1")


CLOSE = "Connection: close"
ANSWERS = {  # what is sent -> the status it must get
    "page": (raw_request("GET / HTTP/1.1", CLOSE), 200),
    "script": (raw_request("GET /app.js HTTP/1.1", CLOSE), 200),
    "style": (raw_request("GET /app.css HTTP/1.1", CLOSE), 200),
    "floor": (raw_request("GET /api/floor HTTP/1.1", CLOSE), 200),
    "icon": (raw_request("GET /favicon.ico HTTP/1.1", CLOSE), 204),
    "unknown path (404)": (raw_request("GET /nothing-here HTTP/1.1", CLOSE), 404),
    "wrong method (405)": (raw_request("POST /api/floor HTTP/1.1", "Content-Length: 0", CLOSE), 405),
    "unparseable header (400)": (raw_request("GET / HTTP/1.1", "no colon here"), 400),
    "bad request line (400)": (raw_request("GET /\x01 HTTP/1.1"), 400),
    "a filter no floor uses (400)": (raw_request(f"GET /api/floor?team={'t' * 5000} HTTP/1.1", CLOSE), 400),
}


@pytest.mark.parametrize("what", list(ANSWERS))
def test_every_answer_carries_the_security_headers(wallboard_port: int, what: str) -> None:
    request, status = ANSWERS[what]
    sent = request.replace(b"{port}", str(wallboard_port).encode())
    answer = record(f"wallboard {what}", exchange(wallboard_port, sent))
    assert answer.status == status, answer.head
    assert_security_headers(answer)


def test_the_event_stream_carries_the_security_headers(wallboard_port: int) -> None:
    with socket.create_connection(("127.0.0.1", wallboard_port), timeout=10) as sock:
        sock.sendall(f"GET /events?team=a HTTP/1.1\r\nHost: 127.0.0.1:{wallboard_port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
    answer = Answer(int(head.split()[1]), {
        line.partition(":")[0].strip().lower(): line.partition(":")[2].strip()
        for line in head.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    }, head)  # fmt: skip
    assert answer.status == 200
    assert_security_headers(answer)


@contextmanager
def board_in_thread(settings: Settings) -> Iterator[Wallboard]:
    """The wallboard served in this process (so its kept state can be counted), through the same
    guarded runner ``callfloor wallboard`` uses, on a real socket."""
    board = Wallboard(settings)
    loop = asyncio.new_event_loop()
    runner = GuardedRunner(board.application(), settings.wallboard_max_connections)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", settings.wallboard_port).start()

    thread = threading.Thread(target=loop.run_forever, daemon=True, name="wallboard")
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(start(), loop).result(30)
        yield board
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def first_event(port: int, query: str) -> bytes:
    """Open ``/events?query``, read its first event, hang up."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET /events?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        data = b""
        while b"\n\ndata: " not in data and not data.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_thousands_of_team_filters_leave_nothing_behind(tmp_path: Path) -> None:
    """Each screen with a new ?team= makes the board build a view for it; once the screen is
    gone the filter must be forgotten, or a client asking for ?team=1, 2, 3 ... grows it forever."""
    limit = 50
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}", wallboard_port=free_port(),
                        data_dir=tmp_path, wallboard_max_connections=limit)  # fmt: skip
    with board_in_thread(settings) as board:
        kept = []
        for i in range(2000):
            assert b"data: {" in first_event(settings.wallboard_port, f"team=t{i}&campaign=c{i % 7}")
            kept.append(len(board.screens))
        assert max(kept) <= limit, f"the board kept up to {max(kept)} filters at once (bound {limit})"
        wait_for(lambda: not board.screens, 10, "the filters of closed screens to be forgotten",
                 progress=lambda: len(board.screens))  # fmt: skip


def test_connections_beyond_the_limit_are_refused_and_freed_ones_are_served(
    logs_dir: Path, tmp_path: Path
) -> None:
    limit = 20
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}", wallboard_port=free_port(),
                        data_dir=tmp_path, wallboard_max_connections=limit)  # fmt: skip
    port = settings.wallboard_port
    with running_wallboard(settings, logs_dir / "attack-wallboard-limit.log"):
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(limit)]
        try:
            # once the server has accepted all of them (a busy machine may take a while), the
            # next connection is over the limit: a board that never refuses fails here
            over = wait_for(
                lambda: (a := exchange(port, build(port, "GET", path="/api/floor"))).status == 503 and a,
                15, "a connection over the limit to be refused",
            )  # fmt: skip
            record("wallboard connection over the limit", over)
            assert over.status == 503 and "too many connections" in over.text
            assert_security_headers(over)
        finally:
            for sock in idle:
                sock.close()
        floor = lambda: exchange(port, build(port, "GET", path="/api/floor"))  # noqa: E731
        served = wait_for(lambda: (a := floor()).status == 200 and a, 10, "a connection served again")
        assert served.body.startswith(b"{")
