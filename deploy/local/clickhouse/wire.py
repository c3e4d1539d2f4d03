"""The framed protocol between the HTTP front and the engine process, over a Unix socket pair.

One frame: an 12-byte head (``!IQ``: JSON length, payload length), the JSON, then the payload.
A request's JSON holds the URL parameters and the read-only flag, its payload the request body;
a reply's JSON holds either the reply's fields or a ClickHouse error, its payload the result.
Both sides refuse frames larger than they could have been sent: a JSON part over 16 MiB
(parameters, bound values, error texts), a payload over ``MAX_PAYLOAD``. The socket carries one
exchange at a time; the front serializes them as the engine's own lock did.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from deploy.local.clickhouse.protocol import ClickHouseError, Reply

_HEAD = struct.Struct("!IQ")
MAX_JSON = 16 * 2**20
MAX_PAYLOAD = 2**32  # a result set or request body larger than 4 GiB is refused


class WireClosed(ConnectionError):
    """The other end closed the socket (the engine process stopped, or the front did)."""


def send(sock: socket.socket, meta: dict[str, Any], payload: bytes = b"") -> None:
    text = json.dumps(meta, separators=(",", ":")).encode()
    if len(text) > MAX_JSON or len(payload) > MAX_PAYLOAD:
        raise ClickHouseError.make(1002, "message to or from the engine process too large")
    sock.sendall(_HEAD.pack(len(text), len(payload)) + text)
    if payload:
        sock.sendall(payload)


def receive(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
    json_len, payload_len = _HEAD.unpack(_exactly(sock, _HEAD.size))
    if json_len > MAX_JSON or payload_len > MAX_PAYLOAD:
        raise WireClosed(f"frame too large ({json_len} + {payload_len} bytes): the stream is not trusted")
    meta = json.loads(_exactly(sock, json_len))
    return meta, _exactly(sock, payload_len)


def _exactly(sock: socket.socket, size: int) -> bytes:
    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        n = sock.recv_into(view[got:], min(size - got, 1 << 22))
        if n == 0:
            raise WireClosed("the other end closed the engine socket")
        got += n
    return bytes(buf)


def send_request(sock: socket.socket, params: dict[str, str], body: bytes, read_only: bool) -> None:
    send(sock, {"params": params, "read_only": read_only}, body)


def send_reply(sock: socket.socket, reply: Reply) -> None:
    meta = {"result_format": reply.result_format, "summary": reply.summary, "timezone": reply.timezone}
    send(sock, meta, reply.body)


def send_error(sock: socket.socket, error: ClickHouseError) -> None:
    send(sock, {"error": {"code": error.code, "text": error.text, "status": error.status}})


def reply_from(meta: dict[str, Any], payload: bytes) -> Reply:
    """The Reply a frame carries; raises the ClickHouseError it carries instead."""
    if (error := meta.get("error")) is not None:
        raise ClickHouseError(int(error["code"]), str(error["text"]), int(error["status"]))
    summary = dict(meta.get("summary") or {})
    return Reply(payload, meta.get("result_format"), summary, str(meta.get("timezone", "")))
