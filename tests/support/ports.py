"""Loopback ports for the services a test starts."""

from __future__ import annotations

import socket

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free loopback port, never the same one twice in this process: the OS may offer a
    port again while the child it was meant for has not bound it yet."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def free_ports(n: int) -> list[int]:
    return [free_port() for _ in range(n)]
