"""What an attack must not have done, measured from outside the endpoint: a refusal is only half
the proof. ``Witness`` watches, for the duration of one attack,

- a TCP listener on 127.0.0.1 that the attack's SQL names (no connection may reach it),
- the endpoint's process tree (no new process may appear under it),
- a directory outside the data directory that the attack names (nothing in it may change),

and the answer itself (no byte of a secret file may appear in it).
"""

from __future__ import annotations

import hashlib
import os
import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.attack.raw import Answer


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (read from /proc, so any kind of child counts)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def tree_digest(root: Path) -> dict[str, str]:
    """Each file's path under ``root`` with a digest of its bytes, and each directory's path."""
    digest: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            digest[str(Path(dirpath, name).relative_to(root)) + "/"] = "dir"
        for name in filenames:
            path = Path(dirpath, name)
            digest[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


@dataclass
class Witness:
    """One attack's observer; see the module docstring."""

    pid: int
    outside: Path  # a directory outside the data directory, named by attacks
    secret: str  # what the secret file holds: no answer may contain it
    listener: socket.socket = field(init=False)
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def connections(self, wait_s: float) -> int:
        """Connections that reached the listener, waiting up to ``wait_s`` for the first."""
        count = 0
        deadline = time.monotonic() + wait_s
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self.listener], [], [], left)[0]:
                break
            conn, _ = self.listener.accept()
            conn.close()
            count += 1
        return count

    @contextmanager
    def watching(self, wait_s: float = 0.5) -> Iterator[None]:
        """Run the attack inside; on leaving, assert it had none of the effects watched."""
        children, files = descendants(self.pid), tree_digest(self.outside)
        yield
        reached = self.connections(wait_s)
        assert reached == 0, f"{reached} connection(s) reached the test's listener on {self.url}"
        new = descendants(self.pid) - children
        assert not new, f"the endpoint started processes {sorted(new)}"
        assert tree_digest(self.outside) == files, f"{self.outside} changed"
        for answer in self.answers:
            assert self.secret.encode() not in answer.head + answer.body, "the secret file's content leaked"

    def saw(self, answer: Answer) -> Answer:
        self.answers.append(answer)
        return answer

    def close(self) -> None:
        self.listener.close()


def assert_refused(answer: Answer, *naming: str) -> None:
    """The fence's answer: 403, ClickHouse's ACCESS_DENIED, saying what was refused."""
    assert answer.status == 403, answer.text
    assert "Code: 497" in answer.text and "Refused by the embedded endpoint" in answer.text, answer.text
    assert answer.headers.get("x-clickhouse-exception-code") == "497"
    for word in naming:
        assert word in answer.text, f"the refusal should name {word!r}: {answer.text}"
