"""The HTTP front's side of the engine process: which layers this machine offers, how the process
is started (bubblewrap), and ``SandboxedEngine``, which the front calls like the in-process Engine.

bubblewrap (Debian's ``bubblewrap``) starts the engine in namespaces of its own: a network
namespace with nothing but its own loopback, a PID namespace, and a mount namespace that holds
only ``/usr``, the interpreter, the virtual environment, the project's code (read-only) and the
data directory (read-write): the token file, ``/etc/passwd`` and the user's home are not there
to be named. Run as root, bubblewrap needs no user namespace and the engine leaves root itself
(confine.drop_root) for ``nobody``, who then owns the data directory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import deploy
import schemas
from deploy.local.clickhouse import confine, wire
from deploy.local.clickhouse.protocol import ClickHouseError, Reply

logger = logging.getLogger(__name__)
HELLO_TIMEOUT_S = 120.0  # opening a large data directory takes a while
STOP_TIMEOUT_S = 10.0
SECRET_PARAMS = frozenset({"password", "user", "quota_key"})  # checked by the front, unused below it

# What each layer stops, for the refusal and the warning (docs/ops/engine-sandbox.md says the same).
LAYER_STOPS = {
    "namespaces": "outbound connections (own network namespace) and naming host files such as "
    "the token or /etc/passwd (own mount namespace)",
    "landlock": "reading files outside the interpreter, libraries and data directory, writing "
    "outside the data directory, running programs, and TCP connections",
    "seccomp": "starting programs (execve) and creating network sockets",
    "not root": "root's reach: every file mode and owner check passes for root",
}


@dataclass(frozen=True)
class Layers:
    """Which isolation layers this machine offers, and why any is missing."""

    missing: dict[str, str] = field(default_factory=dict)  # layer -> why it is unavailable
    landlock_abi: int = 0

    def explain(self) -> str:
        return "; ".join(
            f"{name} unavailable ({why}), which stops {LAYER_STOPS[name]}"
            for name, why in self.missing.items()
        )


def probe() -> Layers:
    """Check each layer on this kernel, without starting the engine."""
    missing: dict[str, str] = {}
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        missing["namespaces"] = "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    else:
        probe_run = subprocess.run(
            [bwrap, *_namespace_flags(), "--ro-bind", "/", "/", "true"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if probe_run.returncode != 0:
            missing["namespaces"] = f"bwrap cannot create namespaces here: {probe_run.stderr.strip()[:200]}"
    abi = confine.landlock_abi()
    if abi < confine.MIN_LANDLOCK_ABI:
        missing["landlock"] = f"kernel Landlock ABI {abi}, {confine.MIN_LANDLOCK_ABI} needed (Linux 6.7+)"
    if why := confine.seccomp_available():
        missing["seccomp"] = why
    if os.getuid() == 0 and "namespaces" in missing:
        # outside bubblewrap's file tree, nobody may not reach the interpreter (e.g. under /root)
        missing["not root"] = "without bubblewrap the engine process stays root"
    return Layers(missing, abi)


def _namespace_flags() -> list[str]:
    flags = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    flags += ["--die-with-parent", "--new-session"]
    if os.getuid() == 0:  # privileged bwrap: keep only what leaving root needs
        return [*flags, "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return ["--unshare-user", *flags]


def read_only_paths() -> list[Path]:
    """What the engine process reads besides its data directory: the interpreter and the
    virtual environment, the project's packages it imports, /usr (shared libraries, zoneinfo),
    the loader's cache and the time zone files."""
    paths = [Path(sys.base_prefix), Path(sys.prefix)]
    paths += [Path(deploy.__file__).parent, Path(schemas.__file__).parent]
    paths += [Path("/usr"), Path("/etc/ld.so.cache"), Path("/etc/localtime"), Path("/etc/timezone")]
    paths += [Path("/sys/fs/cgroup")]  # chdb's memory limit (a namespaced cgroup view under bwrap)
    return [p.resolve() for p in dict.fromkeys(paths) if p.exists()]


def _bwrap_argv(data: Path, reads: list[Path]) -> list[str]:
    argv = [shutil.which("bwrap") or "bwrap", *_namespace_flags()]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # before binds that may lie in /tmp
    for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        target = Path("/", link)
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            argv += ["--ro-bind", str(target), str(target)]
    localtime = Path("/etc/localtime")
    binds = [p for p in reads if p != localtime] + [data]
    made = {Path("/tmp")}
    for path in sorted(binds, key=lambda p: len(p.parts)):
        if any(path.is_relative_to(other) and path != other for other in binds):
            continue  # inside another bound tree already
        for parent in reversed(path.parents[:-1]):
            if parent not in made:
                made.add(parent)
                argv += ["--perms", "0755", "--dir", str(parent)]
        argv += ["--bind" if path == data else "--ro-bind", str(path), str(path)]
    if localtime.is_symlink():  # ClickHouse reads the zone's name from the link
        argv += ["--symlink", os.readlink(localtime), str(localtime)]
    elif localtime.exists():
        argv += ["--ro-bind", str(localtime), str(localtime)]
    return [*argv, "--chdir", str(data), "--"]


def unprivileged_ids() -> tuple[int, int]:
    try:
        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid
    except KeyError:
        return 65534, 65534


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


class SandboxedEngine:
    """The Engine's interface (``execute``, ``version``, ``timezone``, ``close``) over a
    confined child process. A child that dies is started again on the next request."""

    def __init__(self, path: Path, layers: Layers, *, fenced: bool = True) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path, self.layers, self.fenced = path.resolve(), layers, fenced
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self.version = self.timezone = ""
        self.uid = -1
        self._closed = False
        self._start()

    def _start(self) -> None:
        reads = read_only_paths()
        (self.path / "tmp").mkdir(exist_ok=True)
        argv = [sys.executable, "-m", "deploy.local.clickhouse.engine_process", "--data", str(self.path)]
        # /proc: chdb reads its own maps and memory figures (under bwrap, only the sandbox's processes)
        argv += [arg for p in [*reads, Path("/proc")] for arg in ("--read", str(p))]
        if "landlock" not in self.layers.missing:
            argv.append("--landlock")
        if "seccomp" not in self.layers.missing:
            argv.append("--seccomp")
        if not self.fenced:
            argv.append("--unfenced")
        if os.getuid() == 0 and "not root" not in self.layers.missing:
            uid, gid = unprivileged_ids()
            _chown_tree(self.path, uid, gid)
            argv += ["--uid", str(uid), "--gid", str(gid)]
        if "namespaces" not in self.layers.missing:
            argv = _bwrap_argv(self.path, reads) + argv
        ours, theirs = socket.socketpair()
        # chdb makes a scratch directory under TMPDIR when it loads: keep it in the data directory
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TMPDIR": str(self.path / "tmp")}
        env |= {k: os.environ[k] for k in ("TZ",) if k in os.environ}
        try:
            self._proc = subprocess.Popen(
                [*argv, "--fd", str(theirs.fileno())], pass_fds=(theirs.fileno(),), env=env,
                stdin=subprocess.DEVNULL, cwd=self.path,
            )  # fmt: skip
        finally:
            theirs.close()
        ours.settimeout(HELLO_TIMEOUT_S)
        try:
            hello, _ = wire.receive(ours)
            if (error := hello.get("error")) is not None:
                raise RuntimeError(f"the ClickHouse engine process could not start: {error['text']}")
        except wire.WireClosed:
            ours.close()
            code = self._reap()
            raise RuntimeError(
                f"the ClickHouse engine process exited (status {code}) before it served: see its output above"
            ) from None
        except (OSError, RuntimeError):
            ours.close()
            self._reap()
            raise
        ours.settimeout(None)
        self._sock = ours
        self.version, self.timezone, self.uid = hello["version"], hello["timezone"], hello["uid"]
        logger.info(
            "ClickHouse engine process %d (uid %d, layers %s)", self._proc.pid, self.uid, hello["layers"]
        )

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def execute(self, params: dict[str, str], body: bytes, *, read_only: bool) -> Reply:
        """Hand one request to the engine process and return its answer."""
        with self._lock:
            if self._closed:
                raise ClickHouseError.make(1001, "Server is shutting down")
            if self._sock is None:
                self._start()
            assert self._sock is not None
            # the engine never holds a secret: credentials stay in the front (env is scrubbed too)
            params = {k: v for k, v in params.items() if k not in SECRET_PARAMS}
            try:
                wire.send_request(self._sock, params, body, read_only)
                meta, payload = wire.receive(self._sock)
            except OSError:
                code = self._reap()
                why = f"the engine process stopped (exit status {code}); it starts again on the next request"
                raise ClickHouseError.make(1001, why) from None
        return wire.reply_from(meta, payload)

    def _reap(self) -> int | None:
        """Close the socket and wait for (or end) the child; returns its exit status."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            return proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def close(self) -> None:
        """Close the socket: the child closes chdb and exits; killed if it does not in time."""
        with self._lock:
            self._closed = True
            self._reap()

