"""Documents containing HTML and script are shown as text, never run, in the page and the widget."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from ..serving import Service
from .support import XSS_DOC, XSS_IMG, XSS_SCRIPT, HostSite, Watched, answer_events_script, ask

pytestmark = pytest.mark.browser

OpenPage = Callable[..., Watched]
TRAP = answer_events_script() + "window.__fired = []; window.alert = (m) => window.__fired.push(String(m));"
QUESTION = "网页脚本测试内容是什么？"


def live_markup(page: Page) -> int:
    count: int = page.evaluate(
        "() => [document, document.querySelector('ragqa-widget')?.shadowRoot].filter(Boolean)"
        ".reduce((n, r) => n + r.querySelectorAll('.rq img, .rq script, .rq iframe, .rq [onerror]').length, 0)"
    )
    return count


def check_inert(w: Watched, scope: Locator) -> None:
    page = w.page
    bot = ask(scope, QUESTION)
    expect(bot).to_have_attribute("data-state", "done")
    detail: dict[str, Any] = page.evaluate("window.__answers[window.__answers.length - 1]")
    assert detail["citations"] and detail["citations"][0]["doc"] == XSS_DOC
    assert "<" in detail["answer"], "the answer must quote the markup for this test to check it is shown as text"
    expect(bot.locator(".rq-answer")).to_contain_text(XSS_SCRIPT)

    bot.locator(".rq-src").first.click()
    viewer = scope.locator(".rq-viewer")
    expect(viewer.locator(".rq-v-status")).to_have_count(0)
    expect(viewer.locator(".rq-lines")).to_contain_text(XSS_SCRIPT)
    expect(viewer.locator(".rq-lines")).to_contain_text(XSS_IMG)

    page.wait_for_timeout(300)
    assert live_markup(page) == 0
    assert w.dialogs == []
    assert page.evaluate("window.__fired") == []


def test_document_markup_is_inert_on_the_page(open_page: OpenPage, xss_service: Service) -> None:
    w = open_page(xss_service.url + "/", init_script=TRAP)
    check_inert(w, w.page.locator("body"))
    w.page.reload()
    expect(w.page.locator(".rq-bot .rq-src").first).to_be_visible()
    assert live_markup(w.page) == 0 and w.dialogs == []


def test_document_markup_is_inert_in_the_widget(open_page: OpenPage, host_site: HostSite, xss_service: Service) -> None:
    w = open_page(host_site.page(xss_service.url), init_script=TRAP)
    w.page.locator("ragqa-widget .rw-launch").click()
    check_inert(w, w.page.locator("ragqa-widget"))
