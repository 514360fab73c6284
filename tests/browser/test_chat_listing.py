"""Listing answers (every record matching a filter, the answer's `listing`) on the chat page and in
the widget, against a real `ragqa serve` on the sample corpus: a table with a header row, group
rows, a citation chip per record that opens the source viewer, and the xlsx/CSV export links."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from ..serving import Service
from .support import PHONE, HostSite, Watched, answer_events_script, ask, foreign_requests, screenshot

pytestmark = pytest.mark.browser

OpenPage = Callable[..., Watched]
LISTING_QUESTION = "胡利群作为牵头市领导负责哪几项民生实事？"
SCREENSHOT_VIEWPORT = {"width": 1280, "height": 900}


def last_answer(page: Page) -> dict[str, Any]:
    answers: list[dict[str, Any]] = page.evaluate("window.__answers")
    assert answers, "no ragqa:answer event was dispatched"
    return answers[-1]


def listing_of(page: Page) -> dict[str, Any]:
    listing: dict[str, Any] | None = last_answer(page).get("listing")
    assert listing, f"the answer to {LISTING_QUESTION!r} carries no listing"
    return listing


def data_rows(bot: Locator) -> Locator:
    return bot.locator(".rq-table tbody tr:not(.rq-t-group)")


def group_changes(rows: list[dict[str, Any]]) -> list[str]:
    """The group rows the table should show: each non-empty group where consecutive rows change it."""
    shown, last = [], ""
    for row in rows:
        group = row.get("group") or ""
        if group and group != last:
            shown.append(group)
        last = group
    return shown


def check_table(bot: Locator, listing: dict[str, Any]) -> None:
    """The title, header row, group rows and one row per record with its cells and one chip."""
    expect(bot.locator(".rq-t-title")).to_have_text(listing["title"])
    table = bot.get_by_role("table", name=listing["title"])
    expect(table).to_be_visible()
    expect(table.locator("thead tr")).to_have_count(1)
    expect(table.locator("thead th")).to_have_text([*listing["columns"], "出处"])
    rows = data_rows(bot)
    expect(rows).to_have_count(len(listing["rows"]))
    assert rows.count() >= 2
    expect(table.locator("tr.rq-t-group")).to_have_text(group_changes(listing["rows"]))
    for i, row in enumerate(listing["rows"]):
        cells = rows.nth(i).locator("td")
        expect(cells).to_have_count(len(listing["columns"]) + 1)
        for j, text in enumerate(row["cells"]):
            assert (cells.nth(j).text_content() or "") == text
        chips = rows.nth(i).locator("button.rq-cite")
        expect(chips).to_have_count(1)
        expect(chips).to_have_text(str(row["citation"]))


def check_viewer(page: Page, chip: Locator, cited: dict[str, Any]) -> None:
    """Clicking `chip` opens the viewer on the cited lines; Escape closes it, the chip has the focus back."""
    chip.click()
    viewer = page.locator(".rq-viewer")
    expect(viewer).to_be_visible()
    expect(viewer.locator(".rq-v-status")).to_have_count(0)
    expect(viewer.locator(".rq-v-doc")).to_contain_text(cited["doc"])
    hits = viewer.locator(".rq-hit")
    wanted = list(range(cited["start_line"], cited["end_line"] + 1))
    expect(hits).to_have_count(len(wanted))
    assert [int(n) for n in hits.locator(".rq-ln").all_inner_texts()] == wanted
    assert hits.locator("mark.rq-lt").all_text_contents() == cited["quote"].splitlines()
    expect(hits.first).to_be_in_viewport()
    page.keyboard.press("Escape")
    expect(page.locator(".rq-overlay")).to_be_hidden()
    expect(chip).to_be_focused()


def test_listing_answer_is_a_table_with_cited_rows_and_exports(open_page: OpenPage, service: Service) -> None:
    w = open_page(service.url + "/", init_script=answer_events_script())
    page = w.page

    bot = ask(page, LISTING_QUESTION)

    expect(bot).to_have_attribute("data-state", "done")
    result = last_answer(page)
    listing = listing_of(page)
    assert not result["refused"] and result["citations"]
    check_table(bot, listing)
    by_id = {c["id"]: c for c in result["citations"]}
    for i in (0, len(listing["rows"]) - 1):
        check_viewer(page, data_rows(bot).nth(i).locator("button.rq-cite"), by_id[listing["rows"][i]["citation"]])

    xlsx = bot.get_by_role("link", name="导出表格（Excel 文件）")
    expect(xlsx).to_have_text("导出表格")
    href = xlsx.get_attribute("href") or ""
    url = urljoin(page.url, href)
    assert urlsplit(url).path.endswith(".xlsx") and urlsplit(url).netloc == urlsplit(service.url).netloc, url
    got = page.request.get(url)
    assert got.status == 200 and "spreadsheetml" in got.headers["content-type"], (got.status, got.headers)
    assert got.body()[:2] == b"PK", "an xlsx file is a zip archive"
    xlsx.focus()
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename.endswith(".xlsx")

    csv = bot.get_by_role("link", name="导出表格（CSV 文件）")
    expect(csv).to_have_text("CSV")
    got = page.request.get(urljoin(page.url, csv.get_attribute("href") or ""))
    assert got.status == 200 and "csv" in got.headers["content-type"]

    page.reload()
    restored = page.locator(".rq-bot").last
    expect(data_rows(restored)).to_have_count(len(listing["rows"]))
    assert w.errors == []
    assert foreign_requests(w.requests, service.url) == []


def test_listing_answer_screenshot(open_page: OpenPage, service: Service) -> None:
    """docs/screenshots/listing-answer.png (`make screenshots`); the table fits the page."""
    w = open_page(service.url + "/", viewport=SCREENSHOT_VIEWPORT, init_script=answer_events_script())
    page = w.page
    bot = ask(page, LISTING_QUESTION)
    listing = listing_of(page)
    expect(data_rows(bot)).to_have_count(len(listing["rows"]))
    assert page.evaluate("document.documentElement.scrollWidth") <= SCREENSHOT_VIEWPORT["width"]
    wrap = "document.querySelector('.rq-t-wrap')"
    assert page.evaluate(f"{wrap}.scrollWidth <= {wrap}.clientWidth"), "the table needs a scrollbar at 1280 px"
    bot.locator(".rq-t-head").scroll_into_view_if_needed()
    screenshot(page, "listing-answer.png")
    assert w.errors == []


def check_clamps(scope: Locator, page: Page) -> None:
    """Long cells are clamped on a narrow chat; Enter on one shows all of it."""
    clamps = scope.locator(".rq-clamp[tabindex]")
    if not any(len(t) > 100 for t in scope.locator(".rq-clamp").all_text_contents()):
        return
    assert clamps.count() >= 1, "no long cell is clamped on a narrow chat"
    first = clamps.first
    expect(first).to_have_attribute("aria-expanded", "false")
    first.focus()
    page.keyboard.press("Enter")
    expect(first).to_have_attribute("aria-expanded", "true")
    assert first.evaluate("el => el.scrollHeight <= el.clientHeight + 1")


def test_listing_answer_in_the_widget(open_page: OpenPage, host_site: HostSite, service: Service) -> None:
    w = open_page(host_site.page(service.url), init_script=answer_events_script())
    page = w.page
    page.locator("ragqa-widget .rw-launch").click()
    panel = page.locator("ragqa-widget .rw-panel")

    bot = ask(panel, LISTING_QUESTION)

    expect(bot).to_have_attribute("data-state", "done")
    expect(bot.locator(".rq-error")).to_have_count(0)
    listing = last_answer(page).get("listing")
    if listing:
        expect(data_rows(bot)).to_have_count(len(listing["rows"]))
        expect(data_rows(bot).locator("button.rq-cite")).to_have_count(len(listing["rows"]))
        href = bot.get_by_role("link", name="导出表格（Excel 文件）").get_attribute("href") or ""
        assert href.startswith(service.url + "/") and ".xlsx" in href, href
        check_clamps(bot, page)
    else:
        assert (bot.locator(".rq-answer").text_content() or "").strip()
    assert page.evaluate(
        "() => { const l = document.querySelector('ragqa-widget').shadowRoot.querySelector('.rq-log');"
        " return l.scrollWidth <= l.clientWidth; }"
    )
    assert w.errors == []
    assert foreign_requests(w.requests, host_site.origin, service.url) == []


def test_listing_on_a_phone_fits(open_page: OpenPage, service: Service) -> None:
    w = open_page(service.url + "/", viewport=PHONE, init_script=answer_events_script())
    page = w.page
    bot = ask(page, LISTING_QUESTION)
    listing_of(page)
    expect(bot.locator(".rq-table")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate("(l => l.scrollWidth <= l.clientWidth)(document.querySelector('.rq-log'))")
    check_clamps(bot, page)
    assert w.errors == []


HOSTILE = "<img src=x onerror=alert(1)>"


def hostile_answer(route: Route) -> None:
    """A listing whose title, group, columns and cells carry markup, with a javascript: export link."""
    citation = {"id": 1, "doc": "a.txt", "title": HOSTILE, "start_line": 1, "end_line": 1, "clause": None,
                "quote": "<script>alert(1)</script>", "page": None, "page_line": None}
    listing = {
        "kind": "table_row",
        "title": "标题" + HOSTILE,
        "columns": ["序号", "任务" + HOSTILE],
        "rows": [{"group": "<b>组</b>", "cells": ["1", "<script>alert(1)</script>"], "citation": 1},
                 {"group": "<b>组</b>", "cells": ["2", HOSTILE], "citation": 1}],
        "total": 2,
        "export": {"xlsx": "javascript:alert(1)", "csv": None},
    }
    body = {"answer": "共2项：\n1. x[1]\n2. y[1]", "refused": False, "citations": [citation], "passages": [],
            "listing": listing, "llm": {"backend": "extractive"}, "timings_ms": {"total": 1.0}}
    route.fulfill(status=200, content_type="application/json", body=json.dumps(body, ensure_ascii=False))


def test_listing_text_is_shown_as_text(open_page: OpenPage, service: Service) -> None:
    trap = answer_events_script() + "window.__fired = []; window.alert = (m) => window.__fired.push(String(m));"
    w = open_page(service.url + "/", init_script=trap)
    page = w.page
    page.route("**/v1/ask", hostile_answer)

    bot = ask(page, "任意问题")

    expect(bot.locator(".rq-t-title")).to_have_text("标题" + HOSTILE)
    expect(bot.locator("tr.rq-t-group")).to_have_text(["<b>组</b>"])
    expect(data_rows(bot).nth(1).locator("td").nth(1)).to_have_text(HOSTILE)
    expect(bot.locator(".rq-t-export a")).to_have_count(0)
    assert bot.locator(".rq-table img, .rq-table script, .rq-table b, .rq [onerror]").count() == 0
    page.wait_for_timeout(300)
    assert w.dialogs == [] and page.evaluate("window.__fired") == []
