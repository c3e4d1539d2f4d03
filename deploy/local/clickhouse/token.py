"""The per-install token: what a web page cannot know, so it cannot drive the endpoint.

As Jupyter does: a random token, created once in the data directory with 0600 permissions and
reused by every later start (and by every server of the same install), printed by
``callfloor demo`` and read by the project's clients (``sinks.clickhouse.client``). It is
required as the password whenever no password is configured.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
from pathlib import Path

logger = logging.getLogger(__name__)
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{32,128}")


def ensure_token(path: Path) -> str:
    """The token in ``path``, created atomically (0600) if absent; a damaged file stops startup."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning("token file %s was readable by others (mode %o); made it 0600", path, mode)
        path.chmod(0o600)
    token = path.read_text().strip()
    if not _TOKEN.fullmatch(token):
        raise RuntimeError(f"token file {path} is damaged: delete it and a new token is made")
    return token


def _create(path: Path) -> None:
    """Write a fresh token beside ``path`` and link it in: a concurrent start either wins or
    reads the winner's complete file, never a half-written one."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(scratch, path)
            logger.info("created the endpoint's token in %s", path)
        except FileExistsError:
            pass
    finally:
        scratch.unlink(missing_ok=True)
