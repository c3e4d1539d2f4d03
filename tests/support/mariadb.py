"""A throwaway MariaDB server (Debian's ``mariadb-server``) for the dialer-database feeds.

Made in a temporary folder with ``mariadb-install-db`` and started as ``mariadbd`` on a free
loopback port, its own socket and no option files, so it never touches a system server. Run
as root (the CI machines), it is told ``--user=root``: mariadbd refuses root otherwise. The
dialer's tables come from the schema files the dialers publish (tests/samples/ingest/schema);
the feed connects as a made user with a password, as it would to a real dialer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pymysql

from deploy.local.broker import wait_for_port
from deploy.local.processes import spawn, stop
from tests.support.ports import free_port

SCHEMAS = Path(__file__).resolve().parents[1] / "samples" / "ingest" / "schema"
USER, PASSWORD = "callfloor", "dialer-Pw-9q"


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise RuntimeError(f"{name} not found: `make system-deps` installs Debian's mariadb-server")
    return found


class MariaDB:
    """One mariadbd with one database, ``database``, and a user ``callfloor`` allowed in it."""

    def __init__(self, path: Path, log_path: Path, database: str = "asterisk") -> None:
        self.path, self.log_path, self.database = path, log_path, database
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        """The DSN without its password (the feed reads it from CALLFLOOR_INGEST_DB_PASSWORD)."""
        return f"mysql://{USER}@127.0.0.1:{self.port}/{self.database}"

    def _as_root(self) -> list[str]:
        return ["--user=root"] if os.geteuid() == 0 else []

    def start(self) -> MariaDB:
        data = self.path / "data"
        subprocess.run([_binary("mariadb-install-db"), "--no-defaults", f"--datadir={data}", "--skip-test-db",
                        "--auth-root-authentication-method=normal", *self._as_root()],
                       check=True, capture_output=True, timeout=120)  # fmt: skip
        argv = [
            _binary("mariadbd"),
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={self.path / 'sock'}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={self.path / 'pid'}",
            "--innodb-buffer-pool-size=32M",
            "--skip-log-bin",
            "--skip-name-resolve",
            *self._as_root(),
        ]
        self.process = spawn(argv, {}, self.log_path)
        wait_for_port("127.0.0.1", self.port, 60, f"mariadbd (log: {self.log_path})")
        with self.connect(root=True, database=None) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {self.database}")
            cursor.execute(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'")
            cursor.execute(f"GRANT SELECT ON {self.database}.* TO '{USER}'@'127.0.0.1'")
        return self

    def stop(self) -> None:
        stop(self.process)

    def connect(self, *, root: bool = False, database: str | None = "") -> pymysql.Connection:
        """A client session (autocommit): root makes tables and writes rows, as the dialer does."""
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root" if root else USER,
                               password="" if root else PASSWORD, autocommit=True,
                               database=self.database if database == "" else database)  # fmt: skip

    def load_schema(self, name: str) -> None:
        """Run a published schema file (``vicidial.sql``, ``asterisk_cdr.sql``) in the database."""
        text = (SCHEMAS / name).read_text()
        statements = [s.strip() for s in text.split(";")]
        with self.connect(root=True) as connection, connection.cursor() as cursor:
            for statement in statements:
                body = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
                if body.strip():
                    cursor.execute(body)

    def execute(self, sql: str, rows: Iterable[Sequence[Any]] = ((),)) -> None:
        """The dialer writing: one statement, run once per parameter row."""
        with self.connect(root=True) as connection, connection.cursor() as cursor:
            for params in rows:
                cursor.execute(sql, params)
