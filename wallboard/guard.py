"""What every wallboard answer carries, and how many connections a client can make it hold.

aiohttp answers some requests before any route or middleware sees them: a request it cannot
parse (400), a path no route serves (404), a method a route does not take (405), a handler
that failed (500). ``on_response_prepare`` is not fired for the first kind, so the headers
are added where every response passes, the connection's ``finish_response``; a response
already sent (an event stream) has them from its handler.

The connection limit is enforced where connections are accepted: past
``max_connections`` a new connection is answered ``503`` (with the same headers) and
closed, before a byte of its request is read, so neither idle sockets nor slow requests
can hold the board's memory or file descriptors without bound. Idle keep-alive
connections are closed after ``KEEPALIVE_SECONDS`` (aiohttp's own default is an hour).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
KEEPALIVE_SECONDS = 15.0


def _busy_answer() -> bytes:
    lines = ["HTTP/1.1 503 Service Unavailable", "Content-Type: text/plain; charset=utf-8",
             "Connection: close", "Retry-After: 5"]  # fmt: skip
    lines += [f"{name}: {value}" for name, value in SECURITY_HEADERS.items()]
    body = b"the wallboard has too many connections open; try again shortly\n"
    return ("\r\n".join([*lines, f"Content-Length: {len(body)}"]) + "\r\n\r\n").encode() + body


BUSY = _busy_answer()


class _Busy(asyncio.Protocol):
    """A connection over the limit: told so at once, then closed (its request is never read)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(BUSY)
        transport.close()


class _HeaderedHandler(RequestHandler):
    async def finish_response(
        self, request: BaseRequest, resp: StreamResponse, start_time: float | None
    ) -> tuple[StreamResponse, bool]:
        if not resp.prepared:
            for name, value in SECURITY_HEADERS.items():
                resp.headers.setdefault(name, value)
        return await super().finish_response(request, resp, start_time)


class GuardedServer(web.Server):
    """aiohttp's server with the headers on every answer and at most ``max_connections`` open."""

    def __init__(self, *args: Any, max_connections: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.refused = 0

    def __call__(self) -> Any:
        if len(self._connections) >= self.max_connections:
            self.refused += 1
            return _Busy()
        return _HeaderedHandler(self, loop=self._loop, **self._kwargs)


class GuardedRunner(web.AppRunner):
    """An ``AppRunner`` whose server is a :class:`GuardedServer`."""

    def __init__(self, app: web.Application, max_connections: int, **kwargs: Any) -> None:
        # handler_cancellation: a screen that hangs up ends its event stream at once (and frees
        # its connection and filter), not at the next write that fails.
        super().__init__(app, keepalive_timeout=KEEPALIVE_SECONDS, handler_cancellation=True, **kwargs)
        self.max_connections = max_connections

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        guarded = GuardedServer(server.request_handler, request_factory=server.request_factory,
                                handler_cancellation=server.handler_cancellation,
                                max_connections=self.max_connections, loop=server._loop,
                                **server._kwargs)  # fmt: skip
        return guarded
