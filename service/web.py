"""The browser side of the service: chat page, its static assets, the embeddable widget.

`install_web(app, cors_origins)` adds

- `GET /`             the chat page (`static/index.html`), with a strict Content-Security-Policy;
- `GET /static/NAME`  the page's assets: `chat.js` (the page's script, `static/dist/chat.js`),
                      `chat.css`, `icon.svg`;
- `GET /widget.js`    one self-contained script for other intranet pages (`static/dist/widget.js`):
                      the chat and the widget bootstrap with the stylesheet inside as a string, in
                      one function scope so nothing but `window.ragqa` leaks to the host;
- `GET /docs`         the interactive API reference (Swagger UI), served from the
                      `fastapi-offline` package's copy rather than a CDN, so it works on an intranet
                      without internet and under a CSP that allows no inline script;
- security headers on every response, and CORS for the listed origins only.

The two scripts are built from the ES modules in `static/src/` by esbuild (`make assets`, see
`static/src/build.mjs`) and committed; this module only serves them, and tests/test_assets.py fails
when they are stale. Files are read once, at import, through `importlib.resources`, so they work
from a wheel as well as from a source checkout; a missing file fails the import rather than the
first request. Every asset is also kept gzip-compressed and carries an ETag.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'self'"
)

# Swagger UI sets inline styles on its elements; its scripts are all files, like the page's.
DOCS_CSP = PAGE_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ragqa API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script></body></html>
"""
DOCS_INIT = b"""window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});
"""

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# Files of static/ not served under /static/: the page itself and the widget's stylesheet (inside /widget.js).
_NOT_STATIC = ("index.html", "widget.css")
_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")


@dataclass(frozen=True)
class Asset:
    """One file ready to send: its bytes, a gzip copy, and the headers that do not vary."""

    body: bytes
    gzipped: bytes
    media_type: str
    etag: str
    cache_control: str

    @classmethod
    def of(cls, body: bytes, media_type: str, cache_control: str) -> Asset:
        digest = hashlib.sha256(body).hexdigest()[:20]
        return cls(body, gzip.compress(body, 9, mtime=0), media_type, f'"{digest}"', cache_control)

    def response(self, request: Request, extra: dict[str, str] | None = None) -> Response:
        """Send the asset, as 304 when the client's copy is current, gzipped when accepted."""
        headers = {"ETag": self.etag, "Cache-Control": self.cache_control, "Vary": "Accept-Encoding"}
        headers.update(extra or {})
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = self.body
        if "gzip" in request.headers.get("accept-encoding", "") and len(self.gzipped) < len(body):
            body = self.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(content=body, media_type=self.media_type, headers=headers)


def _load_assets() -> tuple[Asset, Asset, dict[str, Asset]]:
    folder = resources.files("ragqa.service") / "static"
    dist = folder / "dist"
    page = Asset.of((folder / "index.html").read_bytes(), _MEDIA_TYPES[".html"], "no-cache")
    widget = Asset.of((dist / "widget.js").read_bytes(), _MEDIA_TYPES[".js"], "public, max-age=600")
    static: dict[str, Asset] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in _MEDIA_TYPES and entry.name not in _NOT_STATIC:
            static[entry.name] = Asset.of(entry.read_bytes(), _MEDIA_TYPES[suffix], "no-cache")
    static["chat.js"] = Asset.of((dist / "chat.js").read_bytes(), _MEDIA_TYPES[".js"], "no-cache")
    return page, widget, static


PAGE, WIDGET, STATIC = _load_assets()


def _docs_files() -> dict[str, tuple[bytes, str, str]]:
    """Swagger UI 5's bundle and stylesheet from the fastapi-offline wheel (MIT; we use its files
    only), plus our initializer: (body, media type, Cache-Control) by name."""
    import fastapi_offline

    vendor = Path(fastapi_offline.__file__).parent / "static"
    return {
        "swagger-ui-bundle.js": ((vendor / "swagger-ui-bundle.js").read_bytes(), _MEDIA_TYPES[".js"], "public, max-age=86400"),
        "swagger-ui.css": ((vendor / "swagger-ui.css").read_bytes(), _MEDIA_TYPES[".css"], "public, max-age=86400"),
        "init.js": (DOCS_INIT, _MEDIA_TYPES[".js"], "no-cache"),
    }


class SecurityHeaders:
    """ASGI middleware adding nosniff and no-referrer to every response, and the page CSP to
    HTML responses. Pure ASGI, so streamed answers pass through unbuffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", PAGE_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _check_origins(cors_origins: list[str]) -> list[str]:
    origins = [origin.strip().rstrip("/") for origin in cors_origins if origin.strip()]
    for origin in origins:
        if origin != "*" and not _ORIGIN.match(origin):
            raise ValueError(
                f"CORS origin {origin!r} is not an origin: give scheme, host and optional port "
                "only, like 'https://intranet.example' or 'http://10.0.0.5:8080' (RAGQA_CORS_ORIGINS)"
            )
    return origins


def _not_found(name: str) -> JSONResponse:
    message = f"No static file {name!r}; the page's files are {', '.join(sorted(STATIC))}."
    return JSONResponse({"error": {"code": "not_found", "message": message}}, status_code=404)


def install_web(app: FastAPI, cors_origins: list[str]) -> None:
    """Add the chat page, static assets, /widget.js, security headers and CORS to `app`.

    `cors_origins` lists the origins whose pages may embed the widget and call the API from the
    browser; an empty list allows same-origin use only and sends no CORS headers. Call before the
    app starts serving: middleware cannot be added afterwards. Raises ValueError for an entry that
    is not an origin (a path or a missing scheme would never match a browser's Origin header).
    """
    origins = _check_origins(cors_origins)

    async def page(request: Request) -> Response:
        return PAGE.response(request)

    async def widget(request: Request) -> Response:
        return WIDGET.response(request, {"Cross-Origin-Resource-Policy": "cross-origin"})

    async def static(name: str, request: Request) -> Response:
        asset = STATIC.get(name)
        return asset.response(request) if asset else _not_found(name)

    docs_files = _docs_files()  # read now, so a missing file fails the start
    docs_assets: dict[str, Asset] = {}  # compressed on first request: gzip -9 of the bundle is 0.09 s

    async def docs(request: Request) -> Response:
        return Response(DOCS_HTML, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": DOCS_CSP})

    async def docs_asset(name: str, request: Request) -> Response:
        if name not in docs_files:
            return _not_found(name)
        if name not in docs_assets:
            docs_assets[name] = Asset.of(*docs_files[name])
        return docs_assets[name].response(request)

    app.add_api_route("/docs", docs, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/docs/assets/{name}", docs_asset, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/", page, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/widget.js", widget, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/static/{name}", static, methods=["GET", "HEAD"], include_in_schema=False)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["content-type"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
