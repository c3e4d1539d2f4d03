"""Reading a worker's /healthz and /readyz the way an orchestrator's probe does."""

from __future__ import annotations

from urllib.error import HTTPError, URLError
from urllib.request import urlopen

import orjson


def probe(port: int, path: str) -> tuple[int, dict] | None:
    """(status, JSON body) of a probe; None while nothing answers on the port."""
    try:
        with urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, orjson.loads(response.read())
    except HTTPError as exc:
        return exc.code, orjson.loads(exc.read())
    except (URLError, ConnectionError, TimeoutError):
        return None


def held_partitions(port: int) -> set[int] | None:
    """Partitions a ready worker holds (seeded), or None while it is not ready."""
    got = probe(port, "/readyz")
    if got is None or got[0] != 200:
        return None
    return set(got[1]["seeded"])
