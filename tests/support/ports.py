"""Loopback ports for the services a test starts."""

from __future__ import annotations

import os
import socket

_HANDED_OUT: set[int] = set()


def _share() -> tuple[int, int]:
    """(this pytest-xdist worker's index, number of workers); (0, 1) outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return int(worker.removeprefix("gw")), max(count, 1)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A free loopback port, never the same one twice in this process: the OS may offer a
    port again while the child it was meant for has not bound it yet. Under pytest-xdist
    each worker hands out only ports of its own residue class (the OS's choice moved to
    the nearest port of that class, then checked free: Linux offers ``bind(0)`` odd ports
    only), so two workers, and the benchmarks they start with their environment, never
    race for one port."""
    index, count = _share()
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            offered = sock.getsockname()[1]
        port = offered - offered % count + index
        if port <= 65535 and port not in _HANDED_OUT and _bindable(port):
            _HANDED_OUT.add(port)
            return port


def free_ports(n: int) -> list[int]:
    return [free_port() for _ in range(n)]
