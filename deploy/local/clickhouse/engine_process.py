"""The engine process: confines itself, then serves chdb over the socket the HTTP front gave it.

Started by sandbox.py (inside bubblewrap when available) as
``python -m deploy.local.clickhouse.engine_process --fd N --data DIR --read PATH ...``.
The order matters and is the point of this module:

1. leave root (``--uid``/``--gid``, given when the front runs as root);
2. Landlock and seccomp (confine.py), while the process is still single-threaded;
3. only then import chdb (its import alone starts threads) and open the data directory;
4. say hello (version, time zone, layers, uid), then answer one framed request at a time
   until the front closes the socket.

Nothing above step 3 may import chdb: this package's ``__init__`` is lazy for that reason.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import traceback
from pathlib import Path
from typing import Any

from deploy.local.clickhouse import confine, wire
from deploy.local.clickhouse.protocol import ClickHouseError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="the Unix socket shared with the front")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--read", type=Path, action="append", default=[], help="a read-only path")
    parser.add_argument("--uid", type=int)
    parser.add_argument("--gid", type=int)
    parser.add_argument("--landlock", action="store_true")
    parser.add_argument("--seccomp", action="store_true")
    parser.add_argument("--unfenced", action="store_true", help="tests of the sandbox alone")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    try:
        layers = _confine(args)
        engine = _open_engine(args.data, unfenced=args.unfenced)
    except Exception as exc:  # noqa: BLE001 - reported to the front, which refuses to start
        wire.send(sock, {"error": {"code": 1001, "status": 500, "text": f"{type(exc).__name__}: {exc}"}})
        return 1
    try:
        hello = {"version": engine.version, "timezone": engine.timezone, "layers": layers, "uid": os.getuid()}
        wire.send(sock, hello)
        _serve(sock, engine)
    finally:
        engine.close()
    return 0


def _confine(args: argparse.Namespace) -> dict[str, Any]:
    """Apply the layers the front asked for; any that fails stops the process."""
    layers: dict[str, Any] = {}
    if args.uid is not None and os.getuid() == 0:
        confine.drop_root(args.uid, args.gid if args.gid is not None else args.uid)
    if args.seccomp and (why := confine.seccomp_available()):
        raise OSError(why)  # checked (and libseccomp loaded) before Landlock hides ldconfig
    if args.landlock:
        paths = confine.Paths(args.data, tuple(args.read))
        layers["landlock_abi"] = confine.restrict_files_and_network(paths)
    if args.seccomp:
        confine.forbid_programs_and_sockets()
        layers["seccomp"] = True
    return layers


def _open_engine(data: Path, *, unfenced: bool) -> Any:
    from deploy.local.clickhouse.default_database import open_engine

    engine = open_engine(data)
    if unfenced:
        _switch_off_fence(engine)
    return engine


def _switch_off_fence(engine: Any) -> None:
    """For the sandbox's own tests only (EmbeddedClickHouse(fenced=False)): every fence check
    passes, so what stops an attack is the operating system. The tests prove the fence is off
    with a read the fence refuses and the sandbox allows (a file inside the data directory)."""
    from deploy.local.clickhouse import engine as engine_module

    class _Open:
        def __getattr__(self, name: str) -> Any:
            return lambda *args, **kwargs: None

    engine.fence = _Open()
    # the name engine.py took from guard.py, replaced in the engine's module: the settings fence off
    engine_module.check_settings = lambda settings: None  # type: ignore[attr-defined]


def _serve(sock: socket.socket, engine: Any) -> None:
    while True:
        try:
            meta, body = wire.receive(sock)
        except wire.WireClosed:
            return
        try:
            reply = engine.execute(dict(meta["params"]), body, read_only=bool(meta["read_only"]))
        except ClickHouseError as exc:
            wire.send_error(sock, exc)
            continue
        except Exception as exc:  # noqa: BLE001 - the front answers 500 and the engine goes on
            traceback.print_exc(file=sys.stderr)
            wire.send_error(sock, ClickHouseError.make(1001, type(exc).__name__))
            continue
        if len(reply.body) > wire.MAX_PAYLOAD:
            wire.send_error(sock, ClickHouseError.make(1002, "result larger than 4 GiB; add a LIMIT"))
            continue
        wire.send_reply(sock, reply)


if __name__ == "__main__":
    raise SystemExit(main())
