"""The attack suite: real ``callfloor clickhouse`` endpoints, attacked over raw HTTP.

Two endpoints per session, both started the way a user starts one: ``open_endpoint`` with the
defaults, and ``tight_endpoint`` with small limits (1 MiB bodies, 4 connections, 5 s to send
a request) so that exhausting them is quick. Every attack notes what it was answered; the
terminal summary lists them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.settings import Settings
from tests.attack.effects import Witness
from tests.attack.raw import REFUSALS, call
from tests.support.processes import ClickHouseProcess
from tests.support.summary import lines_added_to


class Endpoint(ClickHouseProcess):
    """``callfloor clickhouse`` with extra flags; its token is the session install's."""

    def __init__(self, path: Path, log_path: Path, *flags: str) -> None:
        super().__init__(path, log_path)
        self.flags = flags

    def argv(self) -> list[str]:
        return [*super().argv(), *self.flags]

    @property
    def token(self) -> str:
        return Settings().clickhouse_token_file.read_text().strip()


def _serving(tmp: pytest.TempPathFactory, logs_dir: Path, name: str, *flags: str) -> Iterator[Endpoint]:
    server = Endpoint(tmp.mktemp(name), logs_dir / f"{name}.log", *flags)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def open_endpoint(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[Endpoint]:
    yield from _serving(tmp_path_factory, logs_dir, "attack-open")


@pytest.fixture(scope="session")
def tight_endpoint(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[Endpoint]:
    flags = ("--max-body-mb", "1", "--max-connections", "4", "--request-timeout", "5")
    yield from _serving(tmp_path_factory, logs_dir, "attack-tight", *flags)


@pytest.fixture(scope="session")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A file holding a secret no answer may ever contain."""
    secret = f"CANARY-{secrets.token_hex(8)}"
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text(secret + "\n")
    return path, secret


@pytest.fixture
def witness(open_endpoint: Endpoint, secret_file: tuple[Path, str]) -> Iterator[Witness]:
    """Watches one attack on ``open_endpoint`` for effects (see effects.py); the directory it
    guards is the secret file's, outside every data directory."""
    assert open_endpoint.process is not None
    observer = Witness(open_endpoint.process.pid, secret_file[0].parent, secret_file[1])
    try:
        yield observer
    finally:
        observer.close()


@pytest.fixture(scope="session")
def canary(open_endpoint: Endpoint) -> str:
    """A table with three rows that no attack may drop or change; returns its name."""
    token = open_endpoint.token
    for sql in (
        "CREATE DATABASE IF NOT EXISTS attack",
        "CREATE TABLE IF NOT EXISTS attack.canary (n UInt8) ENGINE = MergeTree ORDER BY n",
        "TRUNCATE TABLE attack.canary",
        "INSERT INTO attack.canary VALUES (1), (2), (3)",
    ):
        answer = call(open_endpoint.port, sql, token)
        assert answer.status == 200, answer.text
    return "attack.canary"


def canary_rows(endpoint: Endpoint, table: str) -> str:
    answer = call(endpoint.port, f"SELECT count(), sum(n) FROM {table}", endpoint.token)
    assert answer.status == 200, answer.text
    return answer.text.strip()


@pytest.fixture(autouse=True)
def _answers_in_summary(request: pytest.FixtureRequest) -> Iterator[None]:
    """What each attack was answered goes to the terminal summary."""
    with lines_added_to(request.node, "attack suite: what each attack was answered", REFUSALS):
        yield
