"""The ``default`` database served as a plain Atomic database, never clickhouse-local's overlay.

chdb 4.4 (like clickhouse-local) attaches ``default`` as an Overlay of an Atomic database and a
Filesystem database, so ``SELECT * FROM `/etc/passwd``` names a file: the Filesystem half turns
any path into a table. No session or connection parameter turns the overlay off (chdb's
EmbeddedServer builds it for the server's ``default_database`` whenever that is set). So once
the engine is open, ``default`` is detached and attached again as ``ENGINE = Atomic`` with the
same UUID: the same tables, read from the same ``store/`` directory, and no Filesystem half. The
data directory keeps ``metadata/default.sql`` afterwards; the overlay chdb builds on the next
start finds the same UUID, and is replaced again here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from chdb import session as chdb_session

from deploy.local.clickhouse.engine import Engine


def open_engine(path: Path) -> Engine:
    """The Engine over ``path``, its ``default`` database made Atomic before any request."""
    engine = Engine(path)
    try:
        serve_atomic_default(path)
    except Exception:
        engine.close()
        raise
    return engine


def serve_atomic_default(path: Path) -> None:
    """Replace the overlay ``default`` by an Atomic database over the same tables. Call it
    while another session on ``path`` is open, so that the engine stays up in between."""
    session: Any = chdb_session.Session(str(path))
    try:
        engine, uuid = session.query(
            "SELECT engine, uuid FROM system.databases WHERE name = 'default'", "TSV"
        ).bytes().decode().split()
        if engine == "Atomic":
            return
        session.query("DETACH DATABASE default")
        # ATTACH takes the UUID as a literal only; it is ClickHouse's own, re-rendered by uuid.UUID
        session.query(f"ATTACH DATABASE default UUID '{UUID(uuid)}' ENGINE = Atomic")
    finally:
        session.close()
