"""ClickHouse over HTTPS with a private CA (CALLFLOOR_CLICKHOUSE_CA_FILE), against the real
engine: the session's embedded endpoint behind a TLS terminator whose certificate a CA made
here signed (a real server terminates TLS itself on its https_port). Trusting that CA, a client
reads; trusting only the system's CAs, it is refused before any password is sent."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.exceptions import OperationalError

from schemas.settings import Settings
from sinks.clickhouse.client import connect
from tests.support.ports import free_port
from tests.support.processes import ClickHouseProcess

pytestmark = pytest.mark.integration


def openssl(*args: str) -> None:
    binary = shutil.which("openssl")
    assert binary, "openssl missing: apt-get install -y openssl"
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def make_ca_and_server_cert(tmp: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key), the server's for 127.0.0.1."""
    names = ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem")
    ca_key, ca, key, csr, cert = (tmp / name for name in names)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
            "-days", "2", "-subj", "/CN=callfloor test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
            "-subj", "/CN=127.0.0.1")  # fmt: skip
    (tmp / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "2", "-extfile", str(tmp / "san.ext"))  # fmt: skip
    return ca, cert, key


class TlsTerminator:
    """TLS on ``port``, plain HTTP to ``upstream``, as a TLS-terminating reverse proxy: the
    Host header names the upstream (the endpoint serves only Host values naming itself)."""

    def __init__(self, cert: Path, key: Path, upstream: int) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", free_port()))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()  # the client did not trust us: nothing reaches ClickHouse
            return
        server = socket.create_connection(("127.0.0.1", self.upstream))
        threading.Thread(target=self._pump, args=(server, client), daemon=True).start()
        host = (f"Host: 127.0.0.1:{self.port}".encode(), f"Host: 127.0.0.1:{self.upstream}".encode())
        self._pump(client, server, host)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, host: tuple[bytes, bytes] = (b"", b"")) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data.replace(*host) if host[0] else data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def https_clickhouse(clickhouse: ClickHouseProcess, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ca, cert, key = make_ca_and_server_cert(tmp_path)
    terminator = TlsTerminator(cert, key, clickhouse.port)
    yield f"https://127.0.0.1:{terminator.port}", ca
    terminator.close()


def test_https_with_a_private_ca_reads_and_an_untrusted_certificate_is_refused(
    settings: Settings, https_clickhouse: tuple[str, Path]
) -> None:
    url, ca = https_clickhouse
    trusted = settings.model_copy(update={"clickhouse_url": url, "clickhouse_ca_file": ca})
    with connect(trusted, database="") as client:
        assert client.command("SELECT 40 + 2") == 42
    untrusted = settings.model_copy(update={"clickhouse_url": url})
    with pytest.raises(OperationalError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        connect(untrusted, database="")
