"""Request limits enforced before any work: body size, and the admin key of uploads.

`BodyLimit` is plain ASGI middleware. A request whose Content-Length is over its route's limit
is answered 413 before the body is read; a body without Content-Length (chunked) is counted as
it streams and cut off with 413 at the limit. Uploads (`POST /v1/documents`) get the upload
limit and have their Authorization header checked first, so an unauthenticated upload is
refused without a byte of its body being read (a hostile page cannot make visitors' browsers
push large files at the server).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

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
                await _reply(send, *refusal)
                return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
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
