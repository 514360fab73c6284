"""Request limits enforced before any work: body size, and the admin key of uploads.

`BodyLimit` is plain ASGI middleware. A request whose Content-Length is over its route's limit
is answered 413 before the body is read; a body without Content-Length (chunked) is counted as
it streams and cut off with 413 at the limit. Uploads (`POST /v1/documents`) get the upload
limit and have their Authorization header checked first, so an unauthenticated upload is
refused from its headers: at most 1 MB of its body is read and dropped before the answer, so
the client can read it (a hostile page cannot make visitors' browsers push large files at the
server, and nothing of a refused body is kept).

`TimedH11Protocol` adds the header and body read timeouts uvicorn lacks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import h11
from starlette.exceptions import HTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATH = "/v1/documents"


class TooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit; FastAPI lets an
    HTTPException through its body parsing, so the app's handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the limit of {limit} bytes")


async def _reply(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


DISCARD_BYTES = 1 << 20
DISCARD_SECONDS = 2.0


async def _discard_body(receive: Receive) -> None:
    """Read and drop up to DISCARD_BYTES of a refused request's body (for at most DISCARD_SECONDS)
    before answering. Closing a connection with unread data makes the kernel reset it, and the
    client loses the answer (a 401 or 413) it was meant to read; a small upload is drained, a
    large one is cut off, and nothing of it is kept."""

    async def drain() -> None:
        seen = 0
        while seen <= DISCARD_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    try:
        await asyncio.wait_for(drain(), DISCARD_SECONDS)
    except TimeoutError:
        return


class BodyLimit:
    """Caps request bodies at `body_bytes` (uploads: `upload_bytes`) and checks the upload
    admin key (`authorize_upload(header) -> None | (status, code, message)`) before reading."""

    def __init__(
        self,
        app: ASGIApp,
        body_bytes: int,
        upload_bytes: int,
        authorize_upload: Callable[[str | None], tuple[int, str, str] | None],
    ) -> None:
        self.app = app
        self.body_bytes = body_bytes
        self.upload_bytes = upload_bytes
        self.authorize_upload = authorize_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        upload = scope["path"].rstrip("/") == UPLOAD_PATH and scope["method"] == "POST"
        limit = self.upload_bytes if upload else self.body_bytes
        if upload:
            refusal = self.authorize_upload(headers.get("authorization"))
            if refusal is not None:
                await _discard_body(receive)
                await _reply(send, *refusal)
                return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _discard_body(receive)
            await _reply(send, 413, "request_too_large", f"the request body is {int(declared)} bytes; the limit here is {limit}")
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except TooLarge:
            if not started:
                await _reply(send, 413, "request_too_large", f"the request body is over the limit of {limit} bytes")


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the read timeouts it lacks: a connection must send its whole
    request line and headers within `header_timeout` seconds of its first byte (or of opening),
    and a body must keep arriving, with no pause longer than `body_timeout`. Otherwise the
    connection is closed: half-open or trickling clients cannot hold sockets and memory. A
    request answered before its body was read in full is closed after the answer."""

    header_timeout = 10.0
    body_timeout = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._read_timer: asyncio.TimerHandle | None = self.loop.call_later(self.header_timeout, self._read_timed_out)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._arm_read_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._cancel_read_timer()  # idle keep-alive is uvicorn's own timer; headers re-arm on the next byte
        if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
            # Answered before its body was read (a refused upload): uvicorn would go on reading
            # and dropping the rest for as long as the client sends. Close instead.
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_timer()
        super().connection_lost(exc)

    def _arm_read_timer(self) -> None:
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            self._cancel_read_timer()  # a body: the pause since the last piece counts
            self._read_timer = self.loop.call_later(self.body_timeout, self._read_timed_out)
        elif state is h11.IDLE:
            if getattr(self, "_read_timer", None) is None:  # headers: the time since their first byte counts
                self._read_timer = self.loop.call_later(self.header_timeout, self._read_timed_out)
        else:
            self._cancel_read_timer()

    def _cancel_read_timer(self) -> None:
        timer = getattr(self, "_read_timer", None)
        if timer is not None:
            timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()


def timed_protocol(header_timeout: float, body_timeout: float) -> type[TimedH11Protocol]:
    """A TimedH11Protocol class with these timeouts, for `uvicorn.run(http=...)`."""
    return type("TimedH11Protocol", (TimedH11Protocol,), {"header_timeout": header_timeout, "body_timeout": body_timeout})
