"""Raw HTTP to the endpoint: requests built byte by byte, so the attacks can send what no
well-behaved client would (CRLF in parameters, negative lengths, half requests)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from urllib.parse import urlencode

REFUSALS: list[str] = []  # one line per attack, printed in the terminal summary


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    head: bytes = b""
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


def record(attack: str, answer: Answer) -> Answer:
    """Note what the endpoint answered to ``attack`` for the summary; returns ``answer``."""
    first = answer.text.strip().splitlines()[0][:110] if answer.text.strip() else ""
    REFUSALS.append(f"{attack:<48} -> {answer.status} {first}")
    return answer


def build(
    port: int,
    method: str = "POST",
    params: dict[str, str] | None = None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    token: str | None = None,
    path: str = "/",
) -> bytes:
    """An HTTP/1.1 request; ``token`` goes in X-ClickHouse-Key, as any ClickHouse client may."""
    target = path + ("?" + urlencode(params) if params else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    all_headers = {"Content-Length": str(len(body)), **(headers or {})}
    if token is not None:
        all_headers["X-ClickHouse-Key"] = token
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def exchange(port: int, data: bytes, timeout_s: float = 30.0) -> Answer:
    """Send ``data`` on a new connection and read one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(data)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> Answer:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response head: {buf[:200]!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Answer(int(status_line.split()[1]), headers, head, rest[:length])


def call(port: int, sql: str, token: str | None, method: str = "POST", **kwargs: object) -> Answer:
    """``sql`` as the body of a POST (or as ?query= of a GET)."""
    if method == "GET":
        # kwargs are build()'s keyword arguments, passed through as given
        params = {"query": sql, **dict(kwargs.pop("params", None) or {})}  # type: ignore[arg-type]
        return exchange(port, build(port, "GET", params, token=token, **kwargs))  # type: ignore[arg-type]
    return exchange(port, build(port, "POST", body=sql.encode(), token=token, **kwargs))  # type: ignore[arg-type]  # kwargs: build()'s own
