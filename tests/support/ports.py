"""Loopback ports for the services a test starts."""

from __future__ import annotations

import os
import random
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


def _below_ephemeral() -> tuple[int, int]:
    """Ports the kernel never picks by itself: below its ephemeral range (where every outgoing
    connection takes its source port, so a port chosen there can be taken by a client between
    the choice and the child's bind: "Address already in use", seen in CI)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
            first = int(ranges.read().split()[0])
    except (OSError, ValueError, IndexError):
        first = 32768
    return 10_000, max(10_500, first)


def free_port() -> int:
    """A free loopback port, never the same one twice in this process, from below the kernel's
    ephemeral range (no client connection can hold it). Under pytest-xdist each worker hands
    out ports of its own slice of that range, so two workers, and the benchmarks they start
    with their environment, never race for one port."""
    index, count = _share()
    low, high = _below_ephemeral()
    span = (high - low) // count
    first = low + index * span
    start = random.randrange(span)
    for step in range(span):
        port = first + (start + step) % span
        if port not in _HANDED_OUT and _bindable(port):
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError(f"no free loopback port in {first}..{first + span - 1}")


def free_ports(n: int) -> list[int]:
    return [free_port() for _ in range(n)]
