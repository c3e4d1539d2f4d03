"""EmbeddedClickHouse: ClickHouse's HTTP interface served over chdb, and `serve` for the CLI.

Every component talks to ClickHouse with clickhouse-connect over HTTP; locally the engine is chdb
(ClickHouse in a library), and a chdb data directory can only be opened by one process: the
engine process this server starts and confines (sandbox.py), behind the HTTP front here. What
it promises about security is in README.md, section Security, and docs/ops/engine-sandbox.md.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from deploy.local.clickhouse.default_database import open_engine
from deploy.local.clickhouse.endpoint import Credentials, Limits, _Server
from deploy.local.clickhouse.engine import Engine
from deploy.local.clickhouse.sandbox import SandboxedEngine, probe
from deploy.local.clickhouse.token import ensure_token
from schemas.settings import is_loopback

logger = logging.getLogger(__name__)


class EmbeddedClickHouse:
    """Owns the chdb data directory and the HTTP server in front of it.

    Without a password, clients must present the per-install token in ``token_file``
    (default: ``clickhouse.token`` beside the data directory ``path``). ``delay_ms`` makes
    every query and insert wait that long first (``/ping`` does not): a slow ClickHouse on
    demand, for tests of back-pressure and timeouts.

    The engine runs in a confined process of its own (sandbox.py, docs/ops/engine-sandbox.md) unless
    ``sandbox=False`` (the in-process path, kept for the benchmark that compares the two). A
    layer this machine lacks stops a non-loopback bind and is named in a warning on loopback.
    ``fenced=False`` switches the SQL fence off inside the engine process: only the sandbox's
    own tests use it, to show what the operating system stops on its own.
    """

    def __init__(
        self, path: Path, host: str = "127.0.0.1", port: int = 8123, user: str = "default",
        password: str = "", delay_ms: int = 0, *, token_file: Path | None = None,
        limits: Limits | None = None, sandbox: bool = True, fenced: bool = True,
    ) -> None:  # fmt: skip
        if delay_ms < 0:
            raise ValueError(f"delay_ms must be >= 0, got {delay_ms}")
        if not password and not is_loopback(host):
            raise ValueError(
                f"refusing to serve ClickHouse on non-loopback host {host!r} without a password: "
                "configure a password, or bind 127.0.0.1"
            )
        self.path, self.host, self.port = Path(path), host, port
        self.token_file = None if password else (token_file or self.path.parent / "clickhouse.token")
        self._user, self._password = user, password
        self.delay_ms = delay_ms
        self.limits = limits or Limits()
        self.sandbox, self.fenced = sandbox, fenced
        self._engine: Engine | SandboxedEngine | None = None
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._serving = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _credentials(self) -> Credentials:
        if self.token_file is None:
            return Credentials(self._user, self._password)
        return Credentials(self._user, ensure_token(self.token_file), str(self.token_file))

    def _open(self) -> _Server:
        """Open the data directory, then bind: the port accepts connections once this returns."""
        if self._httpd is None:
            credentials = self._credentials()
            self._engine = self._open_engine()
            try:
                self._httpd = _Server(
                    (self.host, self.port), self._engine, credentials, self.limits, self.delay_ms
                )
            except OSError:
                self._engine.close()
                raise
            self.port = self._httpd.server_address[1]
            delay = f" (every query delayed {self.delay_ms} ms)" if self.delay_ms else ""
            auth = f"token in {self.token_file}" if self.token_file else "password"
            logger.info("ClickHouse %s over HTTP on %s, %s%s", self._engine.version, self.url, auth, delay)
        return self._httpd

    def _open_engine(self) -> Engine | SandboxedEngine:
        if not self.sandbox:
            if not self.fenced:
                raise ValueError("the SQL fence can be switched off only inside the sandbox")
            return open_engine(self.path)
        layers = probe()
        if layers.missing and not is_loopback(self.host):
            raise RuntimeError(
                f"refusing to serve ClickHouse on non-loopback host {self.host!r}: the engine's "
                f"isolation is incomplete on this machine: {layers.explain()}"
            )
        if layers.missing:
            logger.warning("ClickHouse engine isolation incomplete (loopback only): %s", layers.explain())
        return SandboxedEngine(self.path, layers, fenced=self.fenced)

    @property
    def engine_pid(self) -> int | None:
        """The engine process's id (None in-process or before start): tests look at it."""
        return getattr(self._engine, "pid", None)

    def start(self) -> None:
        """Serve from a background thread; returns once the port accepts connections."""
        httpd = self._open()
        if not self._serving:
            self._serving = True
            self._thread = threading.Thread(
                target=httpd.serve_forever, name="clickhouse-http", daemon=True
            )
            self._thread.start()

    def serve_forever(self) -> None:
        """Serve in this thread until stop() is called from another thread."""
        httpd = self._open()
        self._serving = True
        httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving, then close the chdb session (after any running query). Idempotent."""
        if self._httpd is not None:
            if self._serving:
                self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd, self._serving = None, False
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def serve(
    path: Path, host: str, port: int, user: str, password: str, delay_ms: int = 0, *,
    token_file: Path | None = None, limits: Limits | None = None,
) -> None:  # fmt: skip
    """Serve until SIGTERM/SIGINT, then close the server and the chdb session cleanly."""
    server = EmbeddedClickHouse(
        path, host, port, user, password, delay_ms, token_file=token_file, limits=limits
    )
    stop_requested = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop_requested.set())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        server.start()
        while not stop_requested.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
