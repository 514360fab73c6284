"""Feedback and conversations in the chat page and the widget, against real `ragqa serve` processes:
👍/👎 posted to /v1/feedback and exported as a gold line, the history sent with follow-ups, the
rewritten question, a refusal's suggested passages and the suggested questions of an empty chat."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, Route, expect
from ragqa.eval.goldset import parse_gold
from ragqa.index.store import load_index

from ..serving import REPO, Service, StartService, service_env
from .support import GOLD_QUESTION, HostSite, Watched, answer_events_script, ask, screenshot

pytestmark = pytest.mark.browser

OpenPage = Callable[..., Watched]
FOLLOW_UP = "那2022年呢？"
REFUSED_WITH_SUGGESTIONS = "缙云县2035年的常住人口是多少？"  # on topic, but no document gives it: passages on its topic
DOWN = re.compile("^没有帮助")


@pytest.fixture(scope="module")
def feedback_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("feedback") / "feedback.sqlite"


@pytest.fixture(scope="module")
def feedback_service(use_index: Path, feedback_db: Path, start_service: StartService) -> Service:
    """The sample corpus, same-origin only, keeping feedback in a database of this module's own."""
    return start_service(use_index, [], {"RAGQA_FEEDBACK_DB": str(feedback_db)})


def last_answer(w: Watched) -> dict[str, Any]:
    answers: list[dict[str, Any]] = w.page.evaluate("window.__answers")
    assert answers, "no ragqa:answer event was dispatched"
    return answers[-1]


def doc_lines(index: Path) -> dict[str, int]:
    return {doc: head.lines for doc, head in load_index(index).documents.heads.items()}


def export(db: Path, out: Path) -> list[dict[str, Any]]:
    """`ragqa feedback export --db DB --out OUT`, as an operator runs it; the lines written."""
    cmd = [sys.executable, "-m", "ragqa.service.cli", "feedback", "export", "--db", str(db), "--out", str(out)]
    done = subprocess.run(cmd, cwd=REPO, env=service_env([]), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "gold-set candidates" in done.stderr
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_thumbs_down_with_the_correct_answer_becomes_a_gold_line(
    open_page: OpenPage, feedback_service: Service, feedback_db: Path, use_index: Path, tmp_path: Path
) -> None:
    w = open_page(feedback_service.url + "/", init_script=answer_events_script())
    page = w.page
    bot = ask(page, GOLD_QUESTION)
    expect(bot).to_have_attribute("data-state", "done")
    result = last_answer(w)
    assert result["id"] and result["citations"]

    bot.get_by_role("button", name=DOWN).click()
    form = bot.locator(".rq-fb-form")
    expect(form.get_by_label("哪里不对？")).to_be_focused()
    expect(bot.get_by_role("button", name=DOWN)).to_have_attribute("aria-expanded", "true")
    comment = "只有增长，没有写出“以上”"
    form.get_by_label("哪里不对？").fill(comment)
    form.get_by_label("正确答案").fill("7.5%以上")
    cited = result["citations"][-1]
    choice = form.get_by_role("radio", name=re.compile(rf"^\[{cited['id']}\] "))
    expect(form.get_by_role("radio", name="不确定")).to_be_checked()
    choice.check()
    screenshot(page, "chat-feedback-desktop.png")
    with page.expect_response("**/v1/feedback") as sent:
        form.get_by_role("button", name="提交").click()

    assert sent.value.status == 201
    assert sent.value.request.post_data_json == {
        "answer_id": result["id"], "verdict": "down", "comment": comment, "correct_answer": "7.5%以上", "citation": cited["id"]
    }
    expect(bot.locator(".rq-fb-thanks")).to_contain_text("感谢反馈")
    expect(bot.locator(".rq-fb-form")).to_have_count(0)
    down = bot.get_by_role("button", name=DOWN)
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(down).to_have_attribute("aria-expanded", "false")
    expect(down).to_be_focused()

    lines = export(feedback_db, tmp_path / "candidates.jsonl")
    mine = [line for line in lines if line["note"] == comment]
    assert mine == [{
        "id": mine[0]["id"] if mine else "", "question": result.get("rewritten") or GOLD_QUESTION, "answers": ["7.5%以上"],
        "must_all": False, "refs": [{"doc": cited["doc"], "start_line": cited["start_line"], "end_line": cited["end_line"]}],
        "type": "feedback", "note": comment,
    }]
    gold = parse_gold((tmp_path / "candidates.jsonl").read_text(encoding="utf-8"), doc_lines(use_index))
    assert gold.problems == () and len(gold.items) == len(lines)

    page.reload()
    bot = page.locator(".rq-bot").first
    expect(bot.get_by_role("button", name=DOWN)).to_have_attribute("aria-pressed", "true")
    expect(bot.locator(".rq-fb-status")).to_have_text("感谢反馈！")
    assert w.errors == []


def test_thumbs_up_is_sent_at_once_and_failures_are_said_calmly(open_page: OpenPage, feedback_service: Service) -> None:
    w = open_page(feedback_service.url + "/", init_script=answer_events_script())
    page = w.page
    bot = ask(page, GOLD_QUESTION)
    up = bot.get_by_role("button", name="有帮助", exact=True)
    down = bot.get_by_role("button", name=DOWN)
    status = bot.locator(".rq-fb-status")
    down.click()
    bot.locator(".rq-fb-form").get_by_role("button", name="取消").click()
    expect(bot.locator(".rq-fb-form")).to_have_count(0)
    expect(down).to_be_focused()

    page.route("**/v1/feedback", lambda route: route.abort("connectionrefused"))
    up.click()
    expect(status).to_have_text(re.compile("没有连接上问答服务"))
    expect(status).to_have_class(re.compile("rq-fb-failed"))

    def expired(route: Route) -> None:
        body = {"error": {"code": "not_found", "message": "answer is unknown or expired"}}
        route.fulfill(status=404, content_type="application/json", body=json.dumps(body))

    page.unroute("**/v1/feedback")
    page.route("**/v1/feedback", expired)
    up.click()
    expect(status).to_have_text(re.compile("已过期"))
    expect(up).to_have_attribute("aria-pressed", "false")
    expect(bot.locator(".rq-answer")).to_be_visible()
    expect(bot.locator(".rq-error")).to_have_count(0)

    page.unroute("**/v1/feedback")
    with page.expect_response("**/v1/feedback") as sent:
        up.click()
    assert sent.value.status == 201 and sent.value.request.post_data_json == {"answer_id": last_answer(w)["id"], "verdict": "up"}
    expect(status).to_have_text("感谢反馈！")
    expect(up).to_have_attribute("aria-pressed", "true")
    expect(status).not_to_have_class(re.compile("rq-fb-failed"))


def asked_body(page: Page, question: str, scope: Page | Locator | None = None) -> dict[str, Any]:
    """Ask `question` through the chat in `scope` (default: the page); the JSON body it POSTed to /v1/ask."""
    with page.expect_request("**/v1/ask") as sent:
        ask(scope or page, question)
    body: dict[str, Any] = sent.value.post_data_json
    return body


def test_follow_up_sends_history_shows_the_rewritten_question_and_new_chat_forgets(
    open_page: OpenPage, feedback_service: Service
) -> None:
    w = open_page(feedback_service.url + "/", init_script=answer_events_script())
    page = w.page
    assert "history" not in asked_body(page, GOLD_QUESTION)
    first = last_answer(w)

    body = asked_body(page, FOLLOW_UP)

    assert body["history"] == [{"role": "user", "content": GOLD_QUESTION}, {"role": "assistant", "content": first["answer"]}]
    follow = last_answer(w)
    assert follow["rewritten"], "the service did not rewrite the follow-up"
    bot = page.locator(".rq-bot").last
    expect(bot.locator(".rq-rewritten")).to_have_text(f"按“{follow['rewritten']}”检索")
    expect(page.locator(".rq-bot").first.locator(".rq-rewritten")).to_have_count(0)

    page.get_by_role("button", name="开始新对话").click()
    assert "history" not in asked_body(page, FOLLOW_UP)


LONG_CONVERSATION = """
sessionStorage.setItem("ragqa:chat:/", JSON.stringify(Array.from({length: 5}, (_, i) => ({
  q: "问题" + i, state: "done", text: "", err: null, fb: null,
  res: {id: "", question: "问题" + i, answer: String(i).repeat(5000), refused: false, citations: [], suggestions: [], passages: []}
})).concat([{q: "失败的问题", state: "error", text: "", res: null, err: {message: "x", retry: true}}])));
"""


def test_history_keeps_the_last_exchanges_within_the_limits(open_page: OpenPage, feedback_service: Service) -> None:
    w = open_page(feedback_service.url + "/", init_script=LONG_CONVERSATION)
    expect(w.page.locator(".rq-bot")).to_have_count(6)

    body = asked_body(w.page, GOLD_QUESTION)

    history = body["history"]
    assert [t["role"] for t in history] == ["user", "assistant"] * 3
    assert [t["content"] for t in history[::2]] == ["问题2", "问题3", "问题4"]
    assert [t["content"] for t in history[1::2]] == [str(i) * 4000 for i in (2, 3, 4)]


@pytest.fixture(scope="module")
def refusing_service(use_index: Path, tmp_path_factory: pytest.TempPathFactory, start_service: StartService) -> Service:
    """The sample corpus with a refusal threshold no answer reaches: every on-topic question is
    refused with its suggested passages, whatever the answer model makes of it."""
    db = tmp_path_factory.mktemp("refusing") / "feedback.sqlite"
    return start_service(use_index, [], {"RAGQA_FEEDBACK_DB": str(db), "RAGQA_REFUSE_BELOW": "1"})


def test_refusal_offers_the_suggested_passages_as_sources(open_page: OpenPage, refusing_service: Service) -> None:
    w = open_page(refusing_service.url + "/", init_script=answer_events_script())
    page = w.page
    bot = ask(page, REFUSED_WITH_SUGGESTIONS)
    result = last_answer(w)
    assert result["refused"] and result["suggestions"], "the service offered no suggestions for this refusal"

    expect(bot.locator(".rq-refused")).to_be_visible()
    section = bot.locator(".rq-suggestions")
    expect(section.locator(".rq-sources-h")).to_have_text("可能相关的原文")
    items = section.locator(".rq-src")
    expect(items).to_have_count(len(result["suggestions"]))
    expect(bot.get_by_role("button", name="有帮助", exact=True)).to_be_visible()
    screenshot(page, "chat-refusal-suggestions-desktop.png")

    first = result["suggestions"][0]
    items.first.click()
    viewer = page.locator(".rq-viewer")
    expect(viewer.locator(".rq-v-doc")).to_contain_text(first["doc"])
    hits = viewer.locator(".rq-hit .rq-ln")
    expect(hits.first).to_be_visible()
    assert [int(n) for n in hits.all_inner_texts()] == list(range(first["start_line"], first["end_line"] + 1))

    page.keyboard.press("Escape")
    bot.get_by_role("button", name=DOWN).click()
    radios = bot.locator(".rq-fb-form").get_by_role("radio")
    expect(radios).to_have_count(len(result["suggestions"]) + 1)


def suggested_chips(page: Page) -> Locator:
    return page.locator(".rq-empty .rq-suggest-chip")


def test_suggested_questions_are_chips_that_ask(open_page: OpenPage, feedback_service: Service) -> None:
    questions: list[object] = ["东阳2023年GDP目标增长多少?", "缙云县中医药产业发展由哪个部门负责?", "  ", 7]

    def offer(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps({"questions": questions}, ensure_ascii=False))

    w = open_page("about:blank")
    page = w.page
    page.route("**/v1/suggested-questions", offer)
    page.goto(feedback_service.url + "/")
    chips = suggested_chips(page)
    expect(chips).to_have_count(2)
    expect(chips.first).to_have_text("东阳2023年GDP目标增长多少?")

    chips.nth(1).click()
    expect(page.locator(".rq-user")).to_have_text(re.compile("缙云县中医药产业发展由哪个部门负责"))
    expect(page.locator(".rq-bot")).to_have_attribute("data-state", "done", timeout=90_000)
    page.get_by_role("button", name="开始新对话").click()
    expect(suggested_chips(page)).to_have_count(2)


def test_the_services_own_suggested_questions_are_offered(open_page: OpenPage, feedback_service: Service) -> None:
    r = httpx.get(feedback_service.url + "/v1/suggested-questions", timeout=60)
    assert r.status_code == 200, r.text
    questions = [q.strip() for q in r.json()["questions"] if q.strip()][:6]
    assert questions, "the sample corpus gave no suggested question"

    w = open_page(feedback_service.url + "/")

    chips = suggested_chips(w.page)
    expect(chips).to_have_count(len(questions))
    assert chips.all_inner_texts() == questions
    screenshot(w.page, "chat-suggested-desktop.png")
    assert w.errors == []


@pytest.mark.parametrize("failure", ["missing", "broken", "unreachable"])
def test_without_suggested_questions_the_empty_chat_shows_none(
    open_page: OpenPage, feedback_service: Service, failure: str
) -> None:
    def fail(route: Route) -> None:
        if failure == "unreachable":
            route.abort("connectionrefused")
        elif failure == "missing":
            route.fulfill(status=404, content_type="application/json", body='{"error": {"code": "not_found", "message": "x"}}')
        else:
            route.fulfill(status=200, content_type="application/json", body="{not json")

    w = open_page("about:blank")
    w.page.route("**/v1/suggested-questions", fail)
    with w.page.expect_response("**/v1/suggested-questions") if failure != "unreachable" else nullcontext():
        w.page.goto(feedback_service.url + "/")
    expect(w.page.locator(".rq-empty-title")).to_be_visible()
    w.page.wait_for_timeout(300)
    expect(w.page.locator(".rq-suggest-h")).to_have_count(0)
    expect(w.page.locator(".rq-suggest-chip")).to_have_count(0)
    expect(w.page.locator(".rq-input")).to_be_enabled()


def test_feedback_from_the_widget_on_another_origin(open_page: OpenPage, host_site: HostSite, service: Service) -> None:
    w = open_page(host_site.page(service.url), init_script=answer_events_script())
    page = w.page
    page.locator("ragqa-widget .rw-launch").click()
    widget = page.locator("ragqa-widget")
    bot = ask(widget, GOLD_QUESTION)
    expect(bot).to_have_attribute("data-state", "done")

    with page.expect_response("**/v1/feedback") as sent:
        bot.get_by_role("button", name="有帮助", exact=True).click()

    assert sent.value.status == 201
    expect(bot.locator(".rq-fb-status")).to_have_text("感谢反馈！")
    follow = asked_body(page, FOLLOW_UP, widget)
    assert [t["role"] for t in follow["history"]] == ["user", "assistant"]
    expect(widget.locator(".rq-bot").last.locator(".rq-rewritten")).to_have_count(1)
