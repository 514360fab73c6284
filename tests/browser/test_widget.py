"""The embeddable widget on a page of another origin, against real `ragqa serve` processes."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from ..serving import Service
from .support import (
    DESKTOP,
    GOLD_ANSWER,
    GOLD_QUESTION,
    LIST_QUESTION,
    PHONE,
    HostSite,
    Watched,
    answer_events_script,
    ask,
    foreign_requests,
    screenshot,
)

pytestmark = pytest.mark.browser

OpenPage = Callable[..., Watched]
HOST_STYLE_PROPS = ["font-size", "font-family", "color", "line-height", "letter-spacing", "margin-top", "box-sizing"]


def open_host(
    open_page: OpenPage,
    host_site: HostSite,
    service: Service,
    viewport: dict[str, int] = DESKTOP,
    endpoint_attr: bool = True,
    init_script: str | None = None,
) -> Watched:
    w = open_page(host_site.page(service.url, endpoint_attr=endpoint_attr), viewport=viewport, init_script=init_script)
    expect(w.page.locator("ragqa-widget .rw-launch")).to_be_visible()
    return w


def shadow_active_class(page: Page) -> str:
    return str(page.evaluate("document.querySelector('ragqa-widget').shadowRoot.activeElement?.className || ''"))


def host_styles(page: Page, selector: str) -> dict[str, str]:
    styles: dict[str, str] = page.evaluate(
        "([sel, props]) => { const s = getComputedStyle(document.querySelector(sel));"
        " return Object.fromEntries(props.map(p => [p, s.getPropertyValue(p)])); }",
        [selector, HOST_STYLE_PROPS],
    )
    return styles


def test_widget_on_another_origin_answers_with_sources(
    open_page: OpenPage, host_site: HostSite, service: Service
) -> None:
    w = open_host(open_page, host_site, service)
    page = w.page
    launcher = page.locator("ragqa-widget .rw-launch")
    expect(launcher).to_have_accessible_name("打开政策问答")
    launcher.click()
    panel = page.get_by_role("dialog", name="政策问答")
    expect(panel).to_be_visible()

    bot = ask(panel, GOLD_QUESTION)

    expect(bot).to_have_attribute("data-state", "done")
    expect(bot.locator(".rq-answer")).to_contain_text(GOLD_ANSWER)
    bot.locator(".rq-answer button.rq-cite").first.click()
    viewer = panel.locator(".rq-viewer")
    expect(viewer.locator(".rq-hit").first).to_be_visible()
    expect(viewer.locator(".rq-v-status")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(panel).to_be_visible()

    assert w.errors == []
    assert foreign_requests(w.requests, host_site.origin, service.url) == []


def test_host_css_and_widget_do_not_leak_into_each_other(
    open_page: OpenPage, host_site: HostSite, service: Service
) -> None:
    bare = open_page(host_site.page(service.url, widget=False))
    expected = {sel: host_styles(bare.page, sel) for sel in ("body", "#host-p", "#host-link", "h1")}

    w = open_host(open_page, host_site, service)
    page = w.page
    page.locator("ragqa-widget .rw-launch").click()
    expect(page.locator("ragqa-widget .rq-input")).to_be_visible()

    for sel, styles in expected.items():
        assert host_styles(page, sel) == styles, f"the widget changed the host's {sel}"
    inside: dict[str, Any] = page.evaluate(
        "() => { const r = document.querySelector('ragqa-widget').shadowRoot;"
        " const s = getComputedStyle(r.querySelector('.rq'));"
        " const b = r.querySelector('.rw-launch');"
        " return {font: s.fontSize, color: s.color, spacing: s.letterSpacing, sizing: s.boxSizing,"
        " launcher: [b.offsetWidth, b.offsetHeight], sheets: document.styleSheets.length}; }"
    )
    assert inside["font"] == "15px" and inside["spacing"] == "normal" and inside["sizing"] == "border-box"
    assert inside["color"] != "rgb(187, 0, 0)"
    assert inside["launcher"] == [56, 56]
    assert inside["sheets"] == bare.page.evaluate("document.styleSheets.length")


def test_widget_from_an_origin_not_allowed_shows_clear_error(
    open_page: OpenPage, host_site: HostSite, closed_service: Service
) -> None:
    w = open_host(open_page, host_site, closed_service)
    w.page.locator("ragqa-widget .rw-launch").click()

    bot = ask(w.page.locator("ragqa-widget"), GOLD_QUESTION)

    expect(bot).to_have_attribute("data-state", "error")
    error = bot.locator(".rq-error")
    expect(error).to_contain_text("无法连接到问答服务")
    expect(error).to_contain_text("获准访问")
    expect(error.get_by_role("button", name=re.compile("^重试"))).to_be_visible()
    expect(bot.locator(".rq-answer")).to_have_count(0)


def test_widget_endpoint_defaults_to_the_script_origin(
    open_page: OpenPage, host_site: HostSite, service: Service
) -> None:
    w = open_host(open_page, host_site, service, endpoint_attr=False)
    assert w.page.evaluate("window.ragqa.endpoint") == service.url
    w.page.locator("ragqa-widget .rw-launch").click()

    bot = ask(w.page.locator("ragqa-widget"), GOLD_QUESTION)

    expect(bot.locator(".rq-answer")).to_contain_text(GOLD_ANSWER)


def test_widget_keyboard_only(open_page: OpenPage, host_site: HostSite, service: Service) -> None:
    w = open_host(open_page, host_site, service)
    page = w.page
    launcher = page.locator("ragqa-widget .rw-launch")
    for _ in range(6):
        page.keyboard.press("Tab")
        if "rw-launch" in shadow_active_class(page):
            break
    else:
        pytest.fail("Tab never reached the widget button")
    expect(launcher).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="政策问答")).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(page.locator("ragqa-widget .rq-input")).to_be_focused()

    page.keyboard.type(GOLD_QUESTION)
    page.keyboard.press("Enter")
    bot = page.locator("ragqa-widget .rq-bot").last
    expect(bot).to_have_attribute("data-state", "done", timeout=90_000)
    expect(bot.locator(".rq-answer")).to_contain_text(GOLD_ANSWER)
    expect(page.locator("ragqa-widget .rq-input")).to_have_value("")

    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        if "rq-src" in shadow_active_class(page):
            break
    else:
        pytest.fail("Shift+Tab never reached a source")
    page.keyboard.press("Enter")
    expect(page.locator("ragqa-widget .rq-viewer .rq-hit").first).to_be_visible()
    expect(page.locator("ragqa-widget .rq-viewer").get_by_role("button", name="关闭原文")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("ragqa-widget .rq-viewer")).to_be_hidden()
    assert "rq-src" in shadow_active_class(page)
    expect(page.get_by_role("dialog", name="政策问答")).to_be_visible()

    page.keyboard.press("Escape")
    expect(page.locator("ragqa-widget .rw-panel")).to_be_hidden()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    assert "rw-launch" in shadow_active_class(page)


def test_javascript_api_and_answer_event(open_page: OpenPage, host_site: HostSite, service: Service) -> None:
    w = open_host(open_page, host_site, service, init_script=answer_events_script())
    page = w.page
    panel = page.locator("ragqa-widget .rw-panel")

    page.evaluate("q => window.ragqa.ask(q)", GOLD_QUESTION)
    expect(panel).to_be_visible()
    page.wait_for_function("window.__answers.length > 0", timeout=90_000)

    detail: dict[str, Any] = page.evaluate("window.__answers[0]")
    assert detail["question"] == GOLD_QUESTION
    assert GOLD_ANSWER in detail["answer"] and detail["refused"] is False
    assert detail["citations"] and {"id", "doc", "start_line", "end_line", "clause", "quote"} <= set(
        detail["citations"][0]
    )
    assert detail["passages"] and detail["llm"]["backend"] and "total" in detail["timings_ms"]
    expect(panel.locator(".rq-bot .rq-answer")).to_contain_text(GOLD_ANSWER)

    page.evaluate("window.ragqa.close()")
    expect(panel).to_be_hidden()
    page.evaluate("window.ragqa.open()")
    expect(panel).to_be_visible()
    expect(panel.locator(".rq-bot")).to_have_count(1)
    expect(panel.locator(".rq-input")).to_be_focused()


@pytest.mark.parametrize(
    ("viewport", "name"),
    [(DESKTOP, "widget-desktop.png"), (PHONE, "widget-phone.png"), ({"width": 360, "height": 640}, None)],
)
def test_widget_layout_and_screenshot(
    open_page: OpenPage, host_site: HostSite, service: Service, viewport: dict[str, int], name: str | None
) -> None:
    w = open_host(open_page, host_site, service, viewport=viewport)
    page = w.page
    page.locator("ragqa-widget .rw-launch").click()
    panel = page.locator("ragqa-widget .rw-panel")
    ask(panel, GOLD_QUESTION)
    bot = ask(panel, LIST_QUESTION)
    expect(bot.locator(".rq-src").first).to_be_visible()
    # the panel pops in (a 0.18 s scale and shift): measure it once that has run, however fast the answers came
    page.evaluate("() => Promise.all(document.querySelector('ragqa-widget').shadowRoot.getAnimations()"
        ".filter(a => a.effect && a.effect.getTiming().iterations !== Infinity).map(a => a.finished))")

    box = panel.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= viewport["width"] and box["y"] + box["height"] <= viewport["height"]
    if viewport["width"] <= 480:
        assert box["width"] == viewport["width"]
    form = panel.locator(".rq-form").bounding_box()
    assert form is not None and form["y"] + form["height"] <= box["y"] + box["height"]
    assert page.evaluate(
        "() => { const l = document.querySelector('ragqa-widget').shadowRoot.querySelector('.rq-log');"
        " return l.scrollWidth <= l.clientWidth; }"
    )
    if name:
        screenshot(page, name)


def test_widget_script_is_small_and_self_contained(service: Service) -> None:
    r = httpx.get(service.url + "/widget.js")
    body = r.text
    assert r.status_code == 200
    assert len(gzip.compress(r.content, 9)) < 16_000
    assert len(r.content) < 48_000
    assert set(re.findall(r"https?://[^\s\"')]+", body)) <= {"http://www.w3.org/2000/svg"}
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "@import", "url("):
        assert banned not in body, banned
    zipped = httpx.get(service.url + "/widget.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers.get("content-encoding") == "gzip" and zipped.text == body
