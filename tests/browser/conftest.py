"""Fixtures for the browser tests: real `ragqa serve` processes on loopback ports, a host site
on another loopback origin that embeds the widget, and headless Debian Chromium via Playwright.

Chromium missing: the tests skip, unless the environment variable CI is set, where they fail.
Services come from the session-wide `start_service` fixture (tests/conftest.py), one process
per distinct (index, CORS origins, environment), stopped at the end.
"""

from __future__ import annotations

import html
import http.server
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Playwright, Request, sync_playwright

from ..serving import Service, StartService, ingest
from .support import DESKTOP, XSS_DOC, XSS_TEXT, HostSite, SlowLLM, Watched

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session", autouse=True)
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: install it with 'apt-get install -y chromium fonts-noto-cjk'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright, chromium: Path) -> Iterator[Browser]:
    b = playwright_session.chromium.launch(executable_path=str(chromium), headless=True, args=LAUNCH_ARGS)
    yield b
    b.close()


@pytest.fixture(scope="session")
def xss_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("xss-corpus")
    (corpus / XSS_DOC).write_text(XSS_TEXT, encoding="utf-8")
    return corpus


@pytest.fixture(scope="session")
def xss_index(xss_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingest(xss_corpus, tmp_path_factory.mktemp("index") / "xss")


class _HostHandler(http.server.BaseHTTPRequestHandler):
    """Serves /embed?service=URL&endpoint=0|1&widget=0|1: an intranet-like page with hostile CSS."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/embed":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        query = parse_qs(url.query)
        service = html.escape(query.get("service", [""])[0])
        endpoint = f' data-endpoint="{service}"' if query.get("endpoint", ["1"])[0] == "1" else ""
        script = (
            f'<script src="{service}/widget.js"{endpoint} data-title="政策问答" defer></script>'
            if query.get("widget", ["1"])[0] == "1"
            else ""
        )
        body = HOST_PAGE.replace("{script}", script).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


HOST_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>某单位内网首页</title>
<style>
* { box-sizing: content-box !important; letter-spacing: 2px; }
body { margin: 0; padding: 24px; font: 30px/3 serif; color: #b00; background: #f3f1ea; }
div { border: 3px dashed red !important; padding: 9px !important; }
button, textarea { display: none !important; }
svg { width: 300px !important; height: 300px !important; }
.rq, .rq-answer, .rw-panel { display: none !important; }
</style></head>
<body>
<h1>内网首页</h1>
<p id="host-p">宿主页面的段落，不应被问答组件改变。</p>
<a id="host-link" href="#top">通知公告</a>
{script}
</body></html>
"""


@pytest.fixture(scope="session")
def host_site() -> Iterator[HostSite]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HostHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield HostSite(f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def service(use_index: Path, host_site: HostSite, start_service: StartService) -> Service:
    """The sample corpus, with the host site allowed by CORS."""
    return start_service(use_index, [host_site.origin])


@pytest.fixture(scope="session")
def closed_service(use_index: Path, start_service: StartService) -> Service:
    """The sample corpus, same-origin only (no CORS origins)."""
    return start_service(use_index, [])


@pytest.fixture(scope="session")
def xss_service(xss_index: Path, host_site: HostSite, start_service: StartService) -> Service:
    """The one-document corpus with HTML and script in it, with the host site allowed by CORS."""
    return start_service(xss_index, [host_site.origin])


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Watched]]:
    """open_page(url, viewport=DESKTOP, init_script=None, **context_options) -> Watched.

    `init_script` runs in the page before its own scripts. Contexts are closed after the test."""
    contexts = []

    def open_(
        url: str, viewport: dict[str, int] | None = None, init_script: str | None = None, **options: object
    ) -> Watched:
        context = browser.new_context(viewport=viewport or DESKTOP, locale="zh-CN", **options)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        watched = Watched(page)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                watched.errors.append(message.text)

        def on_dialog(dialog: Dialog) -> None:
            watched.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def on_request(request: Request) -> None:
            watched.requests.append(request.url)

        page.on("console", on_console)
        page.on("pageerror", lambda error: watched.errors.append(f"pageerror: {error}"))
        page.on("dialog", on_dialog)
        page.on("request", on_request)
        page.set_default_timeout(20_000)
        if init_script:
            page.add_init_script(init_script)
        page.goto(url)
        return watched

    yield open_
    for context in contexts:
        context.close()


class _SlowLLMHandler(http.server.BaseHTTPRequestHandler):
    """POST /v1/chat/completions in the OpenAI streaming format, slowly; see SlowLLM."""

    server: _SlowLLMServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        fake = self.server.fake
        if not body.get("stream"):
            reply = {
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": fake.text}, "finish_reason": "stop"}
                ]
            }
            data = json.dumps(reply, ensure_ascii=False).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        pieces = [fake.text[i : i + fake.piece_chars] for i in range(0, len(fake.text), fake.piece_chars)]
        for piece in pieces:
            chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()
            time.sleep(fake.delay_s)
        end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        return


class _SlowLLMServer(http.server.ThreadingHTTPServer):
    fake: SlowLLM


@pytest.fixture(scope="session")
def slow_llm() -> Iterator[SlowLLM]:
    server = _SlowLLMServer(("127.0.0.1", 0), _SlowLLMHandler)
    server.fake = SlowLLM(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.fake
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def llm_service(use_index: Path, slow_llm: SlowLLM, start_service: StartService) -> Service:
    """The sample corpus answered by the slow fake LLM, so answers stream in over about a second."""
    env = {
        "RAGQA_LLM_BACKEND": "openai",
        "RAGQA_LLM_BASE_URL": slow_llm.url + "/v1",
        "RAGQA_LLM_MODEL": "slow-fake",
        "RAGQA_LLM_RETRIES": "0",
    }
    return start_service(use_index, [], env)
