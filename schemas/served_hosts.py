"""Which ``Host`` headers name a server of ours, so a web page cannot reach it by DNS rebinding.

A page on ``evil.example`` whose name is re-pointed at 127.0.0.1 talks to a loopback
service from the victim's browser, but its requests still carry ``Host: evil.example``.
A server bound to one address therefore answers only Host values that name that address
(and ``localhost`` for a loopback one), with or without its port. The embedded ClickHouse
endpoint and the wallboard both decide with :func:`host_names_this_server`.
"""

from __future__ import annotations

WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


def url_host(host: str) -> str:
    """``host`` as it stands in a URL or a Host header: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def http_url(host: str, port: int) -> str:
    """The URL a person opens for a server bound to ``host:port``."""
    return f"http://{url_host(host)}:{port}/"


def served_host_names(bind_host: str, port: int) -> frozenset[str] | None:
    """Host header values (lower case) naming a server bound to ``bind_host:port``; None for a
    wildcard bind, where every name the machine has is a right one."""
    if bind_host in WILDCARD_BINDS:
        return None
    names = {url_host(bind_host)}
    if bind_host in ("127.0.0.1", "::1"):
        names.add("localhost")
    return frozenset({n.lower() for n in names} | {f"{n.lower()}:{port}" for n in names})


def host_names_this_server(host_header: str, allowed: frozenset[str] | None) -> bool:
    """True when ``host_header`` is one of ``allowed`` (any, for a wildcard bind)."""
    return allowed is None or host_header.strip().lower() in allowed
