"""The framed protocol between the HTTP front and the engine process (wire.py): what goes in
comes out, errors travel as ClickHouse errors, and an oversized or cut frame is refused."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from deploy.local.clickhouse import wire
from deploy.local.clickhouse.protocol import ClickHouseError, Reply


@pytest.fixture()
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_request_and_reply_round_trip(pair: tuple[socket.socket, socket.socket]) -> None:
    front, engine = pair
    body = bytes(range(256)) * 40_000  # 10 MB: more than one socket buffer, sent from a thread
    params = {"query": "SELECT 1", "x": "é"}
    sender = threading.Thread(target=wire.send_request, args=(front, params, body, True))
    sender.start()
    meta, payload = wire.receive(engine)
    sender.join()
    assert meta == {"params": params, "read_only": True} and payload == body
    reply = Reply(b"1\n", "TabSeparated", {"read_rows": "1"}, "Etc/UTC")
    wire.send_reply(engine, reply)
    assert wire.reply_from(*wire.receive(front)) == reply


def test_error_arrives_as_the_clickhouse_error(pair: tuple[socket.socket, socket.socket]) -> None:
    front, engine = pair
    wire.send_error(engine, ClickHouseError.make(60, "Unknown table", status=404))
    with pytest.raises(ClickHouseError) as caught:
        wire.reply_from(*wire.receive(front))
    assert (caught.value.code, caught.value.status) == (60, 404)
    assert caught.value.text == "Code: 60. DB::Exception: Unknown table. ()"


def test_oversized_frame_head_is_refused_before_reading(pair: tuple[socket.socket, socket.socket]) -> None:
    front, engine = pair
    front.sendall(struct.pack("!IQ", wire.MAX_JSON + 1, 0))
    with pytest.raises(wire.WireClosed, match="frame too large"):
        wire.receive(engine)


def test_a_cut_frame_is_a_closed_wire(pair: tuple[socket.socket, socket.socket]) -> None:
    front, engine = pair
    front.sendall(struct.pack("!IQ", 10, 0) + b'{"a"')
    front.close()
    with pytest.raises(wire.WireClosed):
        wire.receive(engine)
