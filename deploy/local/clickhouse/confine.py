"""The operating-system layers the engine process puts on itself before it opens chdb.

Each layer stops something on its own, so that a function, engine, setting or statement form the
SQL fence does not know about cannot reach outside the data directory (docs/ops/engine-sandbox.md):

- **Landlock** (kernel >= 5.13; ABI 4 adds TCP, ABI 6 scoping): files are readable only under
  the interpreter, the virtual environment, the project's code, ``/usr`` and a few single files;
  writable only under the data directory; executable nowhere; no TCP connect or bind at all; no
  abstract Unix socket or signal outside the process.
- **seccomp** (libseccomp through ``pyseccomp``): ``execve``/``execveat`` fail with EPERM in every
  thread, and sockets other than Unix ones cannot be created.
- **no root**: started as root, the process becomes ``nobody`` before anything else.

Landlock restricts the calling thread and the threads it starts later, and ABI 7 (this kernel)
cannot reach threads that already run; chdb starts its thread pools when a session opens. So
both filters go on while the process is still single-threaded, before chdb is imported: every
thread chdb ever starts inherits them. The network namespace and the reduced file tree come from
bubblewrap, which starts this process (sandbox.py).

Landlock is driven by its three system calls through ctypes: the one Python binding on PyPI
(``landlock``) is a pre-release that handles file rights only, and the kernel interface is
small, versioned and stable. seccomp goes through libseccomp (Debian's ``libseccomp2``), which
knows every architecture's system call numbers and the x32 pitfalls a hand-written BPF
program gets wrong; ``pyseccomp`` is its ctypes binding, importable from the virtual
environment (Debian's ``python3-seccomp`` is not).
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Landlock system calls: one number on every architecture (asm-generic table).
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_PR_SET_NO_NEW_PRIVS = 38

# File rights, by the ABI that introduced them.
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_ABI1 = (1 << 13) - 1  # execute .. make_sym
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_READ = _FS_READ_FILE | _FS_READ_DIR
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
MIN_LANDLOCK_ABI = 4  # below it TCP is not covered; the network namespace still is


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]  # fmt: skip


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(number: int, *args: object) -> int:
    result = _libc.syscall(ctypes.c_long(number), *args)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{os.strerror(err)} (system call {number})")
    return int(result)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is absent or disabled."""
    try:
        flags = ctypes.c_uint32(_CREATE_RULESET_VERSION)
        return _syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), flags)
    except OSError:
        return 0


def seccomp_available() -> str | None:
    """None when seccomp filters can be loaded, else why not."""
    try:
        import pyseccomp  # noqa: F401 - loads libseccomp
    except (ImportError, RuntimeError, OSError) as exc:
        return f"libseccomp cannot be loaded ({exc})"
    return None


@dataclass(frozen=True)
class Paths:
    """What the engine process may touch: everything else is out of reach."""

    data: Path
    read_only: tuple[Path, ...]


def restrict_files_and_network(paths: Paths) -> int:
    """Apply Landlock to this thread and its future threads; returns the ABI used."""
    abi = landlock_abi()
    if abi < 1:
        raise OSError(errno.ENOSYS, "Landlock is not available on this kernel")
    handled_fs = _FS_ABI1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
    handled_fs |= _FS_IOCTL_DEV if abi >= 5 else 0
    attr = _RulesetAttr(
        handled_fs,
        (_NET_BIND_TCP | _NET_CONNECT_TCP) if abi >= 4 else 0,
        (_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL) if abi >= 6 else 0,
    )
    ruleset = _syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), 0)
    try:
        everything_but_exec = handled_fs & ~_FS_EXECUTE
        _allow(ruleset, [paths.data], everything_but_exec)
        _allow(ruleset, paths.read_only, _READ)
        _allow(ruleset, [Path("/dev/null"), Path("/dev/zero")], _FS_READ_FILE | _FS_WRITE_FILE)
        _allow(ruleset, [Path("/dev/urandom"), Path("/dev/random")], _FS_READ_FILE)
        no_new_privileges()
        _syscall(_SYS_RESTRICT_SELF, ruleset, 0)
    finally:
        os.close(ruleset)
    return abi


def _allow(ruleset: int, paths: Iterable[Path], rights: int) -> None:
    for path in paths:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # an optional path (a zoneinfo file, /etc/localtime) this system lacks
        try:
            allowed = rights if os.path.isdir(path) else rights & _FILE_RIGHTS
            rule = _PathBeneathAttr(allowed, fd)
            _syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
        finally:
            os.close(fd)


def no_new_privileges() -> None:
    """No later execve may gain privileges (set-uid files); both filters require it."""
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(err)}")


def forbid_programs_and_sockets() -> None:
    """seccomp for every thread: no program starts, no socket but a Unix one is made."""
    import pyseccomp as seccomp

    refused = seccomp.ERRNO(errno.EPERM)
    flt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in ("execve", "execveat"):
        flt.add_rule(refused, name)
    flt.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    flt.set_attr(seccomp.Attr.CTL_TSYNC, 1)
    no_new_privileges()
    flt.load()


def drop_root(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` with no supplementary groups, for good (all threads: glibc)."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise OSError(errno.EPERM, "could not leave root")
