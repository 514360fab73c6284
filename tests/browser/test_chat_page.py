"""The chat page at / against a real `ragqa serve` on the sample corpus."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Route, expect

from ..serving import Service
from .support import (
    DESKTOP,
    GOLD_ANSWER,
    GOLD_DOC,
    GOLD_QUESTION,
    LIST_QUESTION,
    PHONE,
    HostSite,
    SlowLLM,
    Watched,
    answer_events_script,
    ask,
    foreign_requests,
    screenshot,
)

pytestmark = pytest.mark.browser

OpenPage = Callable[..., Watched]

STREAM_OBSERVER = """
window.__snaps = [];
new MutationObserver(() => {
  const bots = document.querySelectorAll('.rq-bot');
  const bot = bots[bots.length - 1];
  if (!bot) return;
  const answer = bot.querySelector('.rq-answer');
  window.__snaps.push({state: bot.dataset.state || '', text: answer ? answer.textContent : ''});
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""


def last_answer(w: Watched) -> dict[str, Any]:
    answers: list[dict[str, Any]] = w.page.evaluate("window.__answers")
    assert answers, "no ragqa:answer event was dispatched"
    return answers[-1]


def test_answer_with_citation_chip_and_source_viewer(open_page: OpenPage, service: Service) -> None:
    w = open_page(service.url + "/", init_script=answer_events_script())
    page = w.page
    expect(page.locator(".rq-input")).to_be_focused()

    bot = ask(page, GOLD_QUESTION)

    expect(bot).to_have_attribute("data-state", "done")
    expect(bot.locator(".rq-answer")).to_contain_text(GOLD_ANSWER)
    result = last_answer(w)
    assert not result["refused"] and result["citations"]
    chips = bot.locator(".rq-answer button.rq-cite")
    expect(chips.first).to_be_visible()
    assert chips.count() == len(re.findall(r"\[(\d{1,2})\]", result["answer"]))
    sources = bot.locator(".rq-src")
    expect(sources).to_have_count(len(result["citations"]))
    expect(sources.first).to_contain_text(result["citations"][0]["doc"])
    assert any(c["doc"] == GOLD_DOC for c in result["citations"])

    chip = chips.first
    cited = next(c for c in result["citations"] if str(c["id"]) == chip.inner_text().strip())
    chip.click()
    viewer = page.locator(".rq-viewer")
    expect(viewer).to_be_visible()
    expect(viewer.get_by_role("button", name="关闭原文")).to_be_focused()
    expect(viewer.locator(".rq-v-status")).to_have_count(0)
    expect(viewer.locator(".rq-v-doc")).to_contain_text(cited["doc"])
    if cited["clause"]:
        expect(viewer.locator(".rq-v-clause")).to_have_text(cited["clause"])
    hits = viewer.locator(".rq-hit")
    wanted = list(range(cited["start_line"], cited["end_line"] + 1))
    assert [int(n) for n in hits.locator(".rq-ln").all_inner_texts()] == wanted
    assert hits.locator("mark.rq-lt").all_text_contents() == cited["quote"].splitlines()
    expect(hits.first).to_be_in_viewport()
    assert viewer.locator(".rq-line").count() > len(wanted), "no context lines around the cited lines"
    screenshot(page, "chat-source-desktop.png")

    page.keyboard.press("Escape")
    expect(page.locator(".rq-overlay")).to_be_hidden()
    expect(chip).to_be_focused()

    bot.locator(".rq-src").first.click()
    expect(viewer.locator(".rq-hit").first).to_be_visible()
    page.locator(".rq-scrim").click(position={"x": 10, "y": 10})
    expect(page.locator(".rq-overlay")).to_be_hidden()

    assert w.errors == []
    assert foreign_requests(w.requests, service.url) == []


def streamed_texts(w: Watched) -> list[str]:
    """The non-empty texts the newest answer showed in the streaming state, before it was done."""
    snaps: list[dict[str, str]] = w.page.evaluate("window.__snaps")
    states = [s["state"] for s in snaps]
    assert "done" in states, f"no done state observed: {sorted(set(states))}"
    return [s["text"] for s in snaps[: states.index("done")] if s["state"] == "streaming" and s["text"]]


def test_answer_streams_in_before_done(open_page: OpenPage, llm_service: Service) -> None:
    w = open_page(llm_service.url + "/", init_script=STREAM_OBSERVER + answer_events_script())

    bot = ask(w.page, GOLD_QUESTION)

    expect(bot).to_have_attribute("data-state", "done")
    final = bot.locator(".rq-answer").text_content() or ""
    assert GOLD_ANSWER in final
    partial = [text for text in streamed_texts(w) if len(text) < len(final)]
    assert len(set(partial)) >= 3, f"the answer did not grow piece by piece while streaming: {partial}"
    assert all(final.startswith(p) for p in partial[:2])
    assert last_answer(w)["llm"]["backend"] == "openai"


def test_uncited_draft_is_replaced_by_the_fallback_answer(
    open_page: OpenPage, llm_service: Service, slow_llm: SlowLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    draft = "这是一段不带出处编号的草稿回答，服务端会弃用它。"
    monkeypatch.setattr(slow_llm, "text", draft)
    w = open_page(llm_service.url + "/", init_script=STREAM_OBSERVER + answer_events_script())

    bot = ask(w.page, GOLD_QUESTION)

    expect(bot).to_have_attribute("data-state", "done")
    result = last_answer(w)
    assert result["llm"]["fallback"] is True
    final = bot.locator(".rq-answer").text_content() or ""
    assert "草稿" not in final and GOLD_ANSWER in final
    assert any(draft.startswith(text) for text in streamed_texts(w)), "the draft was not shown while streaming"
    expect(bot.locator(".rq-answer button.rq-cite").first).to_be_visible()


def test_refusal_is_calm_not_an_error(open_page: OpenPage, service: Service) -> None:
    w = open_page(service.url + "/", init_script=answer_events_script())

    bot = ask(w.page, "2035年火星移民基地的建设预算是多少？")

    expect(bot).to_have_attribute("data-state", "done")
    assert last_answer(w)["refused"] is True
    expect(bot.locator(".rq-refused")).to_contain_text("文档中没有找到答案")
    expect(bot.locator(".rq-error")).to_have_count(0)
    expect(bot.locator(".rq-cite")).to_have_count(0)
    assert w.errors == []


def test_unreachable_service_shows_error_and_retry_recovers(open_page: OpenPage, service: Service) -> None:
    w = open_page(service.url + "/")
    page = w.page
    page.route("**/v1/ask", lambda route: route.abort("connectionrefused"))

    bot = ask(page, GOLD_QUESTION)

    expect(bot).to_have_attribute("data-state", "error")
    expect(bot.locator(".rq-error")).to_contain_text("无法连接到问答服务")
    retry = bot.get_by_role("button", name=re.compile("^重试"))
    expect(retry).to_be_visible()

    page.unroute("**/v1/ask")
    retry.click()
    expect(bot).to_have_attribute("data-state", "done", timeout=90_000)
    expect(bot.locator(".rq-answer")).to_contain_text(GOLD_ANSWER)
    expect(bot.locator(".rq-error")).to_have_count(0)


def test_client_error_message_from_the_service_is_shown(open_page: OpenPage, service: Service) -> None:
    w = open_page(service.url + "/")
    message = "问题太长了：请控制在2000字以内。"

    def reject(route: Route) -> None:
        route.fulfill(
            status=422,
            content_type="application/json",
            body=json.dumps({"error": {"code": "invalid_question", "message": message}}, ensure_ascii=False),
        )

    w.page.route("**/v1/ask", reject)
    bot = ask(w.page, "任何问题")

    expect(bot.locator(".rq-error")).to_contain_text(message)
    expect(bot.get_by_role("button", name=re.compile("^重试"))).to_be_visible()


def test_real_validation_error_is_shown_not_swallowed(open_page: OpenPage, service: Service) -> None:
    w = open_page(service.url + "/")
    w.page.route(
        "**/v1/ask",
        lambda route: route.continue_(post_data=json.dumps({"question": "问题", "top_k": 0, "stream": True})),
    )

    bot = ask(w.page, GOLD_QUESTION)

    expect(bot).to_have_attribute("data-state", "error")
    text = bot.locator(".rq-error .rq-notice-text").inner_text()
    assert text and "HTTP 5" not in text and "无法连接" not in text


def test_conversation_survives_reload_and_new_chat_clears_it(open_page: OpenPage, service: Service) -> None:
    w = open_page(service.url + "/")
    page = w.page
    ask(page, GOLD_QUESTION)

    page.reload()
    expect(page.locator(".rq-user")).to_have_text([re.compile(re.escape(GOLD_QUESTION))])
    restored = page.locator(".rq-bot")
    expect(restored).to_have_attribute("data-state", "done")
    expect(restored.locator(".rq-answer")).to_contain_text(GOLD_ANSWER)
    restored.locator("button.rq-cite").first.click()
    expect(page.locator(".rq-viewer .rq-hit").first).to_be_visible()
    page.keyboard.press("Escape")

    page.get_by_role("button", name="开始新对话").click()
    expect(page.locator(".rq-msg")).to_have_count(0)
    expect(page.locator(".rq-empty")).to_be_visible()
    page.reload()
    expect(page.locator(".rq-empty")).to_be_visible()


def test_copy_answer_with_sources(open_page: OpenPage, service: Service) -> None:
    w = open_page(service.url + "/", init_script=answer_events_script())
    w.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=service.url)
    bot = ask(w.page, GOLD_QUESTION)
    result = last_answer(w)

    bot.get_by_role("button", name="复制回答和来源").click()
    expect(bot.get_by_role("button", name="复制回答和来源")).to_contain_text("已复制")

    copied: str = w.page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(result["answer"].strip())
    assert "来源：" in copied
    for c in result["citations"]:
        lines = (
            f"第{c['start_line']}行" if c["start_line"] == c["end_line"] else f"第{c['start_line']}–{c['end_line']}行"
        )
        assert f"[{c['id']}] " in copied and c["doc"] in copied and lines in copied
        if c["clause"]:
            assert c["clause"] in copied


@pytest.mark.parametrize(("viewport", "name"), [(DESKTOP, "chat-desktop.png"), (PHONE, "chat-phone.png")])
def test_page_layout_and_screenshot(open_page: OpenPage, service: Service, viewport: dict[str, int], name: str) -> None:
    w = open_page(service.url + "/", viewport=viewport)
    page = w.page
    ask(page, GOLD_QUESTION)
    bot = ask(page, LIST_QUESTION)
    expect(bot.locator(".rq-src").first).to_be_visible()
    expect(bot.locator(".rq-src").last).to_be_in_viewport()

    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert page.evaluate(
        "document.querySelector('.rq-log').scrollWidth <= document.querySelector('.rq-log').clientWidth"
    )
    box = page.locator(".rq-form").bounding_box()
    assert box is not None and box["y"] + box["height"] <= viewport["height"]
    screenshot(page, name)
    assert w.errors == []


def test_headers_and_cors(service: Service, closed_service: Service, host_site: HostSite) -> None:
    page = httpx.get(service.url + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in page.text and " style=" not in page.text

    widget = httpx.get(service.url + "/widget.js")
    assert widget.headers["content-type"].startswith("application/javascript")
    assert "max-age" in widget.headers["cache-control"]
    assert widget.headers["x-content-type-options"] == "nosniff"
    again = httpx.get(service.url + "/widget.js", headers={"If-None-Match": widget.headers["etag"]})
    assert again.status_code == 304

    for asset, kind in [("chat.js", "application/javascript"), ("chat.css", "text/css")]:
        r = httpx.get(f"{service.url}/static/{asset}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
    missing = httpx.get(service.url + "/static/nope.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"]

    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    ok = httpx.options(service.url + "/v1/ask", headers={"Origin": host_site.origin, **preflight})
    assert ok.headers.get("access-control-allow-origin") == host_site.origin
    other = httpx.options(service.url + "/v1/ask", headers={"Origin": "http://evil.example", **preflight})
    assert other.headers.get("access-control-allow-origin") is None
    closed = httpx.options(closed_service.url + "/v1/ask", headers={"Origin": host_site.origin, **preflight})
    assert closed.headers.get("access-control-allow-origin") is None
