"""The ``--dsn`` of the database feeds (``--format vicidial-db|asterisk-db``): parsed, shown
and connected without its password ever being printed.

Its own module, light to import, because the CLI's help names :data:`DSN_FORM` and every
``callfloor`` command builds that parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

if TYPE_CHECKING:
    from pymysql.connections import Connection
    from pymysql.cursors import Cursor


class DialerDbError(ValueError):
    """A database feed that cannot start or go on; the message says what to fix."""


# The DSN form the docs recommend: the password from the environment, not the command line
# (where `ps` shows it to every user of the machine); one in the DSN still works.
DSN_FORM = "mysql://USER@HOST[:PORT]/DATABASE, the password in CALLFLOOR_INGEST_DB_PASSWORD"


@dataclass(frozen=True)
class Dsn:
    """``mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?unix_socket=PATH]``; shown without the
    password (:data:`DSN_FORM` is the form the help and the docs recommend)."""

    host: str
    port: int
    user: str
    password: SecretStr
    database: str
    unix_socket: str | None = None

    @classmethod
    def parse(cls, text: str, fallback_password: SecretStr) -> Dsn:
        """The DSN's parts; every refusal names what is wrong and never echoes ``text`` (it may
        hold the password)."""
        try:
            parts = urlsplit(text)
        except ValueError as exc:  # e.g. "Invalid IPv6 URL": urllib's words, not the text
            raise DialerDbError(f"--dsn: {exc}; expected {DSN_FORM}") from None
        database = parts.path.lstrip("/")
        if (
            parts.scheme not in ("mysql", "mariadb")
            or not parts.hostname
            or not database
            or not parts.username
        ):
            raise DialerDbError(f"--dsn: expected {DSN_FORM}")
        try:
            port = parts.port or 3306
        except ValueError:
            raise DialerDbError("--dsn: the port is not a number from 1 to 65535") from None
        socket = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p).get("unix_socket")
        password = SecretStr(unquote(parts.password)) if parts.password is not None else fallback_password
        return cls(parts.hostname, port, unquote(parts.username), password, database, socket)

    def __str__(self) -> str:
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.database}"

    def connect(self) -> Connection[Cursor]:
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            database=self.database,
            # UTF-8, as MariaDB/MySQL hash a password given in SQL: pymysql would encode a str
            # as Latin-1 and fail naming a character of the password (in the error message)
            password=self.password.get_secret_value().encode(),
            unix_socket=self.unix_socket,
            autocommit=True,
            connect_timeout=10,
            read_timeout=60,
            charset="utf8mb4",
        )
