"""The chat page's document panel against a real `ragqa serve` with an admin key, on its own copy
of the sample index (and so its own document store) in a temporary folder: the list, the admin
key (sessionStorage only), uploads through the file chooser and by drag and drop with their
progress and result, an answer from an uploaded document, errors in plain words, and deletion
with an inline confirmation."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, Route, expect

from .. import serving
from ..serving import Service
from .support import GOLD_ANSWER, GOLD_QUESTION, Watched, ask, screenshot

pytestmark = pytest.mark.browser

OpenPage = Callable[..., Watched]
KEY = "k-upload-panel"
KEY_STORE = "ragqa:admin-key"
SCREENSHOT_VIEWPORT = {"width": 1280, "height": 900}
RIVER_DOC = "河道管理办法.txt"
RIVER_TEXT = "某市河道管理办法\n第一条 本市河道由市水务局统一管理。\n第二条 任何单位和个人不得向河道倾倒垃圾。\n"
RIVER_QUESTION = "本市河道由哪个部门统一管理？"
HOSTILE_NAME = "<img src=x onerror=alert(1)>.txt"
HOSTILE_TEXT = "关于<b>林地</b>保护的<script>alert(1)</script>通知\n第一条 本办法所称<b>林地</b>，由市林业局负责保护。\n"

PHASES = """
window.__phases = [];
new MutationObserver(() => {
  const s = document.querySelector('.rq-job .rq-job-state');
  const seen = window.__phases;
  if (s && seen[seen.length - 1] !== s.textContent) seen.push(s.textContent);
}).observe(document, {subtree: true, childList: true, characterData: true});
window.__fired = [];
window.alert = (m) => window.__fired.push(String(m));
"""

DROP = """([name, text]) => {
  const dt = new DataTransfer();
  dt.items.add(new File([text], name, {type: 'text/plain'}));
  dt.items.add(new File(['MZ\\u0000\\u0001'], 'setup.exe', {type: 'application/octet-stream'}));
  const zone = document.querySelector('.rq-drop');
  for (const type of ['dragenter', 'dragover', 'drop']) {
    zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
  }
}"""


@pytest.fixture(scope="module")
def admin_service(hash_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The sample corpus (hash embedder) copied into a temporary folder, served with an admin key;
    its document store is created beside the copy, so uploads never touch another test's index."""
    root = tmp_path_factory.mktemp("upload-panel")
    shutil.copytree(hash_index.resolve(), root / "build")
    (root / "index").symlink_to(root / "build")
    service = serving.start(root / "index", [], {"RAGQA_ADMIN_KEY": KEY}, root / "serve.log")
    yield service
    serving.stop(service)


def listed(service: Service) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = httpx.get(f"{service.url}/v1/documents", timeout=10).json()["documents"]
    return documents


def remove(service: Service, doc: str) -> None:
    """Delete `doc` through the API if it is there (a test leaves the store as it found it)."""
    if any(d["doc"] == doc for d in listed(service)):
        r = httpx.delete(f"{service.url}/v1/documents/{doc}", headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
        assert r.status_code == 200, r.text


def open_panel(page: Page) -> Locator:
    page.get_by_role("button", name="管理文档").click()
    dialog = page.get_by_role("dialog", name="文档管理")
    expect(dialog).to_be_visible()
    return dialog


def use_key(dialog: Locator, key: str) -> None:
    dialog.locator("input[type=password]").fill(key)
    dialog.get_by_role("button", name="使用密钥").click()


def upload_button(dialog: Locator) -> Locator:
    return dialog.get_by_role("button", name=re.compile(r"^上传( \d+ 个文件)?$"))


def row(dialog: Locator, doc: str) -> Locator:
    return dialog.locator(".rq-dl-item").filter(has=dialog.page.locator(".rq-dl-id", has_text=doc))


def real_errors(w: Watched) -> list[str]:
    """Console errors other than Chromium's note of each refused request (401, 409, …)."""
    return [e for e in w.errors if "Failed to load resource" not in e]


def test_documents_are_listed_and_uploaded_asked_and_deleted(
    open_page: OpenPage, admin_service: Service, tmp_path: Path
) -> None:
    samples = listed(admin_service)
    w = open_page(admin_service.url + "/", init_script=PHASES)
    page = w.page
    dialog = open_panel(page)
    expect(dialog.get_by_role("button", name="关闭文档管理")).to_be_focused()

    rows = dialog.locator(".rq-dl-item")
    expect(rows).to_have_count(len(samples))
    for i, d in enumerate(samples):
        expect(rows.nth(i).locator(".rq-dl-name")).to_have_text(d["title"] or d["doc"])
        expect(rows.nth(i).locator(".rq-dl-meta")).to_contain_text(f"{d['doc']}{d['lines']} 行{d['chunks']} 个分块")
    expect(dialog.locator(".rq-dl-count")).to_have_text(f"共 {len(samples)} 份")

    # No key: nothing can change, and the panel says why.
    expect(upload_button(dialog)).to_be_disabled()
    expect(dialog.locator(".rq-drop")).to_have_attribute("aria-disabled", "true")
    expect(dialog.locator(".rq-up-hint")).to_have_text("输入管理员密钥后才能上传。")
    expect(rows.first.get_by_role("button", name=re.compile("^删除"))).to_be_disabled()
    expect(dialog.locator(".rq-dl-note")).to_be_visible()

    # A wrong key is refused at once with the server's 401, and not kept.
    use_key(dialog, "not-the-key")
    error = dialog.locator(".rq-key-err")
    expect(error).to_contain_text("管理员密钥不正确")
    expect(error).to_contain_text("Authorization: Bearer")
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORE}')") is None

    use_key(dialog, KEY)
    expect(dialog.locator(".rq-key-set")).to_contain_text("已输入管理员密钥")
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORE}')") == KEY
    assert page.evaluate("localStorage.length") == 0
    expect(dialog.locator(".rq-drop")).to_have_attribute("aria-disabled", "false")
    expect(rows.first.get_by_role("button", name=re.compile("^删除"))).to_be_enabled()

    # Upload through the file chooser: progress, processing, then the result and the new row.
    river = tmp_path / RIVER_DOC
    river.write_text(RIVER_TEXT, encoding="utf-8")
    expect(upload_button(dialog)).to_be_disabled()
    dialog.locator("input[type=file]").set_input_files(river)
    expect(dialog.locator(".rq-pick")).to_contain_text(RIVER_DOC)
    upload_button(dialog).click()
    job = dialog.locator(".rq-job").first
    expect(job).to_have_attribute("data-phase", "done", timeout=60_000)
    expect(job.locator(".rq-added")).to_have_text(f"已添加{RIVER_DOC}")
    expect(job.locator(".rq-result-meta")).to_contain_text(f"现共 {len(samples) + 1} 份文档")
    phases: list[str] = page.evaluate("window.__phases")
    sending = [i for i, p in enumerate(phases) if re.fullmatch(r"上传中 \d{1,3}%", p)]
    processing = [i for i, p in enumerate(phases) if p == "处理中…"]
    assert sending and processing and max(sending) < min(processing), phases
    new_row = row(dialog, RIVER_DOC)
    expect(new_row).to_have_count(1)
    expect(new_row.locator(".rq-dl-new")).to_have_text("新")
    expect(rows).to_have_count(len(samples) + 1)

    # Escape closes the panel and gives the focus back; the new document answers in the chat.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="管理文档")).to_be_focused()
    bot = ask(page, RIVER_QUESTION)
    expect(bot).to_have_attribute("data-state", "done")
    expect(bot.locator(".rq-answer")).to_contain_text("市水务局")
    expect(bot.locator(".rq-src").first).to_contain_text(RIVER_DOC)

    # A file the server cannot read: the job fails and says why, in the server's words too.
    dialog = open_panel(page)
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00" * 64)
    dialog.locator("input[type=file]").set_input_files(exe)
    upload_button(dialog).click()
    failed = dialog.locator(".rq-job").first
    expect(failed).to_have_attribute("data-phase", "failed", timeout=60_000)
    expect(failed.locator(".rq-bad-title")).to_have_text("文件无法读取，没有添加任何文档。")
    expect(failed.locator(".rq-bad-detail")).to_contain_text("tool.exe: unsupported file type .exe")

    check_delete(page, dialog, admin_service, samples)
    assert w.dialogs == [] and page.evaluate("window.__fired") == []
    assert real_errors(w) == []


def check_delete(page: Page, dialog: Locator, service: Service, samples: list[dict[str, Any]]) -> None:
    """Cancel a delete, confirm it, and see the row go; 409 last_document is said in words."""
    target = row(dialog, RIVER_DOC)
    target.get_by_role("button", name=re.compile("^删除")).click()
    expect(target).to_contain_text("确认删除？")
    expect(target.get_by_role("button", name=re.compile("^取消删除"))).to_be_focused()
    page.keyboard.press("Escape")  # cancels the confirmation, not the panel
    expect(dialog).to_be_visible()
    expect(target).not_to_contain_text("确认删除？")
    expect(target.get_by_role("button", name=re.compile("^删除"))).to_be_focused()
    target.get_by_role("button", name=re.compile("^删除")).click()
    target.get_by_role("button", name=re.compile("^取消删除")).click()
    expect(target).not_to_contain_text("确认删除？")
    assert any(d["doc"] == RIVER_DOC for d in listed(service))

    target.get_by_role("button", name=re.compile("^删除")).click()
    target.get_by_role("button", name=re.compile("^确认删除")).click()
    expect(target).to_have_count(0, timeout=60_000)
    expect(dialog.locator(".rq-dl-item")).to_have_count(len(samples))
    assert [d["doc"] for d in listed(service)] == [d["doc"] for d in samples]

    def last_document(route: Route) -> None:
        if route.request.method != "DELETE":
            route.continue_()
            return
        body = '{"error": {"code": "last_document", "message": "cannot delete the last document"}}'
        route.fulfill(status=409, content_type="application/json", body=body)

    page.route("**/v1/documents/**", last_document)
    first = dialog.locator(".rq-dl-item").first
    first.get_by_role("button", name=re.compile("^删除")).click()
    first.get_by_role("button", name=re.compile("^确认删除")).click()
    expect(first.locator(".rq-dl-err")).to_contain_text("这是仅剩的一份文档，不能删除")
    expect(first.locator(".rq-dl-err")).to_contain_text("cannot delete the last document")
    page.unroute("**/v1/documents/**")
    expect(dialog.locator(".rq-dl-item")).to_have_count(len(samples))


def test_a_stale_key_is_refused_at_upload_and_forgotten(open_page: OpenPage, admin_service: Service, tmp_path: Path) -> None:
    """A key kept from before (the server's key changed) is refused with 401 at upload; the panel
    forgets it and asks again. 忘记密钥 clears a good key."""
    w = open_page(admin_service.url + "/", init_script=f"sessionStorage.setItem('{KEY_STORE}', 'old-key');")
    page = w.page
    dialog = open_panel(page)
    expect(dialog.locator(".rq-key-set")).to_be_visible()
    note = tmp_path / "通知.txt"
    note.write_text("关于开展节水宣传的通知\n一、各单位应当开展节水宣传。\n", encoding="utf-8")
    dialog.locator("input[type=file]").set_input_files(note)
    upload_button(dialog).click()
    job = dialog.locator(".rq-job").first
    expect(job).to_have_attribute("data-phase", "failed")
    expect(job.locator(".rq-bad-title")).to_have_text("管理员密钥不正确。")
    expect(dialog.locator(".rq-key-err")).to_contain_text("管理员密钥不正确")
    expect(dialog.locator("input[type=password]")).to_be_focused()
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORE}')") is None
    expect(upload_button(dialog)).to_be_disabled()

    use_key(dialog, KEY)
    expect(dialog.locator(".rq-key-set")).to_be_visible()
    dialog.get_by_role("button", name="忘记密钥").click()
    expect(dialog.locator("input[type=password]")).to_be_focused()
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORE}')") is None
    expect(dialog.locator(".rq-drop")).to_have_attribute("aria-disabled", "true")
    assert "通知.txt" not in [d["doc"] for d in listed(admin_service)]
    page.mouse.click(100, 400)  # the backdrop beside the panel closes it
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="管理文档")).to_be_focused()
    assert real_errors(w) == []


def test_files_dropped_on_the_zone_are_uploaded_and_shown_as_text(open_page: OpenPage, admin_service: Service) -> None:
    """Drag and drop (a DataTransfer with two files): one added, one skipped with its reason;
    markup in a file name and a title is shown as text. The chat answers while the upload runs."""
    w = open_page(admin_service.url + "/", init_script=PHASES + f"sessionStorage.setItem('{KEY_STORE}', '{KEY}');")
    page = w.page
    dialog = open_panel(page)
    try:
        page.evaluate(DROP, [HOSTILE_NAME, HOSTILE_TEXT])
        expect(dialog.locator(".rq-pick")).to_have_count(2)
        expect(dialog.locator(".rq-pick-name")).to_have_text([HOSTILE_NAME, "setup.exe"])
        upload_button(dialog).click()
        page.keyboard.press("Escape")  # the upload runs on; the 文档 button says so
        expect(page.get_by_role("button", name="管理文档（有上传正在处理）")).to_be_visible()
        bot = ask(page, GOLD_QUESTION)
        expect(bot.locator(".rq-answer")).to_contain_text(GOLD_ANSWER)
        expect(page.get_by_role("button", name="管理文档")).to_be_visible(timeout=60_000)
        dialog = open_panel(page)
        job = dialog.locator(".rq-job").first
        expect(job).to_have_attribute("data-phase", "done")
        expect(job.locator(".rq-job-files")).to_have_text(f"{HOSTILE_NAME}、setup.exe")
        expect(job.locator(".rq-result-head")).to_have_text("完成：添加了 1 份文档，跳过 1 个文件")
        expect(job.locator(".rq-added .rq-result-name")).to_have_text(HOSTILE_NAME)
        skipped = job.locator(".rq-skipped")
        expect(skipped.locator(".rq-result-name")).to_have_text("setup.exe")
        expect(skipped.locator(".rq-reason")).to_contain_text("原因：unsupported file type .exe")
        added = row(dialog, HOSTILE_NAME)
        title = next(d["title"] for d in listed(admin_service) if d["doc"] == HOSTILE_NAME)
        expect(added.locator(".rq-dl-name")).to_have_text(title or HOSTILE_NAME)
        expect(added.locator(".rq-dl-id")).to_have_text(HOSTILE_NAME)
        assert dialog.locator("img, script, b, [onerror]").count() == 0
        page.wait_for_timeout(300)
        assert w.dialogs == [] and page.evaluate("window.__fired") == []
        assert real_errors(w) == []
    finally:
        remove(admin_service, HOSTILE_NAME)


def test_upload_errors_are_said_plainly(open_page: OpenPage, admin_service: Service, tmp_path: Path) -> None:
    """413 file_too_large and a network failure, each in words (with the server's message)."""
    w = open_page(admin_service.url + "/", init_script=f"sessionStorage.setItem('{KEY_STORE}', '{KEY}');")
    page = w.page
    big = tmp_path / "大文件.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * 2048)

    def too_large(route: Route) -> None:
        body = '{"error": {"code": "file_too_large", "message": "大文件.pdf is over 20 MB"}}'
        route.fulfill(status=413, content_type="application/json", body=body)

    page.route("**/v1/documents?wait=false", too_large)
    dialog = open_panel(page)
    dialog.locator("input[type=file]").set_input_files(big)
    upload_button(dialog).click()
    job = dialog.locator(".rq-job").first
    expect(job).to_have_attribute("data-phase", "failed")
    expect(job.locator(".rq-bad-title")).to_have_text("文件太大，超过了服务器允许的单个文件大小。")
    expect(job.locator(".rq-bad-detail")).to_have_text("服务器说明：大文件.pdf is over 20 MB")
    page.unroute("**/v1/documents?wait=false")

    page.route("**/v1/documents?wait=false", lambda route: route.abort("connectionrefused"))
    dialog.locator("input[type=file]").set_input_files(big)
    upload_button(dialog).click()
    expect(dialog.locator(".rq-job").first.locator(".rq-bad-title")).to_have_text("网络连接失败，没有联系上服务器。")
    expect(dialog.locator(".rq-job")).to_have_count(2)
    assert "大文件.pdf" not in [d["doc"] for d in listed(admin_service)]


def test_upload_progress_climbs_while_the_file_is_sent(open_page: OpenPage, admin_service: Service, tmp_path: Path) -> None:
    """With the upload throttled (Chromium's network emulation) the percentage climbs, then the job runs."""
    w = open_page(admin_service.url + "/", init_script=PHASES + f"sessionStorage.setItem('{KEY_STORE}', '{KEY}');")
    page = w.page
    log = tmp_path / "河道巡查记录.txt"
    log.write_text("".join(f"第{i}条 第{i}号河道由沿岸单位负责日常巡查和保洁。\n" for i in range(1, 1500)), encoding="utf-8")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    throttle = {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 200 * 1024}
    cdp.send("Network.emulateNetworkConditions", throttle)
    try:
        dialog = open_panel(page)
        dialog.locator("input[type=file]").set_input_files(log)
        upload_button(dialog).click()
        expect(dialog.locator(".rq-job progress")).to_be_visible()
        expect(dialog.locator(".rq-job").first).to_have_attribute("data-phase", "done", timeout=60_000)
        phases: list[str] = page.evaluate("window.__phases")
        shares = [int(m.group(1)) for p in phases if (m := re.fullmatch(r"上传中 (\d{1,3})%", p))]
        assert shares == sorted(shares) and any(0 < n < 100 for n in shares) and shares[-1] == 100, phases
        assert phases.index("处理中…") == len(shares), phases
        assert real_errors(w) == []
    finally:
        remove(admin_service, log.name)


def test_upload_panel_screenshot(open_page: OpenPage, admin_service: Service, tmp_path: Path) -> None:
    """docs/screenshots/upload-panel.png (`make screenshots`): the panel after one finished upload."""
    w = open_page(admin_service.url + "/", viewport=SCREENSHOT_VIEWPORT, init_script=f"sessionStorage.setItem('{KEY_STORE}', '{KEY}');")
    page = w.page
    river = tmp_path / RIVER_DOC
    river.write_text(RIVER_TEXT, encoding="utf-8")
    exe = tmp_path / "安装程序.exe"
    exe.write_bytes(b"MZ\x90\x00" * 64)
    try:
        dialog = open_panel(page)
        dialog.locator("input[type=file]").set_input_files([river, exe])
        upload_button(dialog).click()
        expect(dialog.locator(".rq-job").first).to_have_attribute("data-phase", "done", timeout=60_000)
        expect(row(dialog, RIVER_DOC).locator(".rq-dl-new")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= SCREENSHOT_VIEWPORT["width"]
        dialog.get_by_role("button", name="关闭文档管理").focus()
        screenshot(page, "upload-panel.png")
        assert real_errors(w) == []
    finally:
        remove(admin_service, RIVER_DOC)
