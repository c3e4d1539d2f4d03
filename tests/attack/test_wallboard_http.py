"""A web page cannot read the wallboard through DNS rebinding, and a browser's icon request
is answered (a real ``callfloor wallboard`` over raw HTTP; no broker needed to serve)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.settings import Settings
from tests.attack.raw import Answer, build, exchange, record
from tests.integration.wallboard_page import running_wallboard
from tests.support.ports import free_port

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
