"""Helpers for the browser tests: asking through the UI, screenshots, request checks."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from playwright.sync_api import Locator, Page, expect

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("RAGQA_SCREENSHOTS_DIR") or REPO / "out" / "screenshots")
"""Where the tests save screenshots; `make screenshots` points this at docs/screenshots."""
ANSWER_TIMEOUT_MS = 90_000
GOLD_QUESTION = "东阳2023年GDP目标增长多少?"
GOLD_ANSWER = "7.5%"
GOLD_DOC = "003_9350541e24857315.txt"
LIST_QUESTION = "学校宿舍改造民生实事首年要完成改造的6所学校有哪些？"
FINISHED = re.compile(r"^(done|error|stopped)$")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

XSS_DOC = "测试文件.txt"
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_TEXT = (
    "测试文件\n"
    "一、安全测试条款\n"
    f"1.网页脚本测试内容为{XSS_SCRIPT}，应按原文显示。\n"
    f"2.图片标签测试内容为{XSS_IMG}，应按原文显示。\n"
    "3.本测试文件的联系人为张三，联系电话为12345。\n"
)


@dataclass
class HostSite:
    """A plain web site on its own origin whose page embeds the widget with one script tag."""

    origin: str

    def page(self, service: str, *, endpoint_attr: bool = True, widget: bool = True) -> str:
        query = {"service": service, "endpoint": "1" if endpoint_attr else "0", "widget": "1" if widget else "0"}
        return f"{self.origin}/embed?{urlencode(query)}"


@dataclass
class SlowLLM:
    """A fake OpenAI-compatible chat endpoint that streams `text` a few characters at a time."""

    url: str
    text: str = "东阳2023年地区生产总值目标是增长7.5%以上[1]。"
    piece_chars: int = 2
    delay_s: float = 0.08


@dataclass
class Watched:
    """A page with what it did recorded: console errors, uncaught errors, dialogs, requests."""

    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def ask(scope: Page | Locator, question: str) -> Locator:
    """Type `question` into the chat in `scope`, press Enter, and wait until the answer settles.

    Returns the answer's article element (`.rq-bot`), whose data-state is done, error or stopped."""
    bots = scope.locator(".rq-bot")
    before = bots.count()
    box = scope.locator(".rq-input")
    box.fill(question)
    box.press("Enter")
    expect(bots).to_have_count(before + 1)
    bot = bots.nth(before)
    expect(bot).to_have_attribute("data-state", FINISHED, timeout=ANSWER_TIMEOUT_MS)
    return bot


_HIDE_ELAPSED = """() => {
  const roots = [document, ...[...document.querySelectorAll("ragqa-widget")].map((w) => w.shadowRoot)];
  for (const root of roots) for (const el of root ? root.querySelectorAll(".rq-meta") : []) el.style.visibility = "hidden";
}"""


def screenshot(page: Page, name: str) -> Path:
    """Save SCREENSHOTS/NAME, with the elapsed-time labels hidden (they differ on every run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.evaluate(_HIDE_ELAPSED)
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path


def foreign_requests(urls: list[str], *origins: str) -> list[str]:
    """Requests that left the allowed origins (data: URLs are local and allowed)."""
    allowed = {urlsplit(origin).netloc for origin in origins}
    return [u for u in urls if not u.startswith("data:") and urlsplit(u).netloc not in allowed]


def answer_events_script() -> str:
    """Init script recording every ragqa:answer event's detail in window.__answers."""
    return "window.__answers = [];window.addEventListener('ragqa:answer', (e) => window.__answers.push(e.detail));"
