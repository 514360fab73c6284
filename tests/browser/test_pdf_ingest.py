"""PDF in: Chromium prints real PDFs (text layer, running header, page numbers); the reader
keeps the text in order, drops the header and page numbers, knows each line's page, and the
answer's citation carries the page. A PDF without text (a scan) is refused with its reason."""

from __future__ import annotations

import base64
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from playwright.sync_api import Browser, expect
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.ingest.docstore import DocumentStore
from ragqa.ingest.errors import ReadError
from ragqa.ingest.office import read_pdf
from ragqa.service.app import create_app
from ragqa.service.pipeline import Pipeline

from ..conftest import settings_for
from ..serving import StartService
from .support import Watched, ask

ARTICLES = [
    "第一条 为加强本市河道管理，保障防洪安全，制定本办法。",
    "第二条 市水务局是本市河道的主管部门，负责河道的统一管理和监督。",
    "第三条 在河道管理范围内建设跨河桥梁，建设单位应当在开工前三十日内报市水务局审查。",
    "第四条 违反本办法第三条规定的，由市水务局责令改正，可以处五万元以下罚款。",
]
HEADER = '<div style="font-size:9px;width:100%;text-align:center">某市人民政府规章汇编</div>'
FOOTER = '<div style="font-size:9px;width:100%;text-align:center">- <span class="pageNumber"></span> -</div>'


def print_pdf(browser: Browser, body: str) -> bytes:
    page = browser.new_page()
    try:
        page.set_content(f'<html lang="zh-CN"><body style="font:16px sans-serif">{body}</body></html>')
        return page.pdf(format="A5", display_header_footer=True, header_template=HEADER, footer_template=FOOTER,
                        margin={"top": "60px", "bottom": "60px", "left": "40px", "right": "40px"})
    finally:
        page.close()


def regulation(browser: Browser) -> bytes:
    """Three pages: the title and two articles, then one article per page."""
    breaks = '<div style="break-after:page"></div>'
    return print_pdf(browser, f"<h2>某市河道管理办法</h2><p>{ARTICLES[0]}</p><p>{ARTICLES[1]}</p>{breaks}<p>{ARTICLES[2]}</p>{breaks}<p>{ARTICLES[3]}</p>")


def test_pdf_lines_are_in_order_with_pages_and_without_running_header_or_page_numbers(browser: Browser) -> None:
    read = read_pdf(regulation(browser))
    assert len(read.lines) == len(read.pages) and read.lines[0] == "某市河道管理办法"
    on_page = {n: "".join(line for line, page in zip(read.lines, read.pages, strict=True) if page == n) for n in (1, 2, 3)}
    assert on_page == {1: "某市河道管理办法" + ARTICLES[0] + ARTICLES[1], 2: ARTICLES[2], 3: ARTICLES[3]}
    assert not any("汇编" in line or line.strip("- ").isdigit() for line in read.lines)


def test_an_answer_from_a_pdf_cites_its_page(browser: Browser, hash_index: Path, tmp_path: Path) -> None:
    shutil.copytree(hash_index.resolve(), tmp_path / "build")
    (tmp_path / "index").symlink_to(tmp_path / "build")
    pipe = Pipeline.from_settings(settings_for(tmp_path / "index"))
    (tmp_path / "index.data" / "incoming").mkdir(parents=True)
    staged = tmp_path / "index.data" / "incoming" / "r.pdf"
    staged.write_bytes(regulation(browser))
    done = pipe.add_documents([("河道管理办法.pdf", staged)])
    assert done.added == ["河道管理办法.pdf"] and not done.skipped
    answer = pipe.ask("建设跨河桥梁应当在开工前多少日内报审？")
    cited = [c for c in answer.citations if c.doc == "河道管理办法.pdf"]
    assert cited and cited[0].quote.replace("\n", "") in ARTICLES[2] and "三十日" in cited[0].quote and cited[0].page == 2
    # Page 2 holds document lines 5-6 (article 3, wrapped); its running header is not a line.
    assert (cited[0].start_line, cited[0].page_line) in {(5, 1), (6, 2)}


def test_a_pdf_with_no_text_even_for_ocr_is_refused_with_the_reason(browser: Browser) -> None:
    page = browser.new_page()
    try:
        page.set_content('<canvas id="c" width="400" height="300"></canvas><script>'
                         'const g=document.getElementById("c").getContext("2d");g.fillRect(20,20,200,100);</script>')
        blank = page.pdf(format="A5")
    finally:
        page.close()
    with pytest.raises(ReadError, match="not even by OCR"):
        read_pdf(blank)


def interleaved_columns(browser: Browser) -> bytes:
    """A page set in two columns whose lines are drawn across both (left 1, right 1, left 2, …),
    as some layout programs write them, under a title that spans both."""
    lines = ""
    for i in range(1, 9):
        lines += f'<div style="position:absolute;left:20px;top:{80 + i * 24}px">左栏第{i}行文字，这一行写得足够长填满左栏</div>'
        lines += f'<div style="position:absolute;left:320px;top:{80 + i * 24}px">右栏第{i}行文字，这一行也写得够长填满右栏</div>'
    title = '<div style="position:absolute;left:20px;top:30px">横跨两栏的标题写得很长很长很长很长很长很长</div>'
    page = browser.new_page()
    try:
        page.set_content(f'<html lang="zh-CN"><body style="font:12px sans-serif">{title}{lines}</body></html>')
        return page.pdf(format="A4")
    finally:
        page.close()


def test_two_columns_drawn_across_are_read_column_by_column(browser: Browser) -> None:
    read = read_pdf(interleaved_columns(browser))
    assert read.lines[0].startswith("横跨两栏的标题")
    assert [line[:5] for line in read.lines[1:]] == [f"左栏第{i}行" for i in range(1, 9)] + [f"右栏第{i}行" for i in range(1, 9)]


def test_columns_printed_one_after_the_other_keep_their_order(browser: Browser) -> None:
    left = "".join(f"<p>第{n}条 左栏的第{n}条规定，内容较长需要折行显示以便测试阅读顺序。</p>" for n in "一二三四五")
    right = "".join(f"<p>第{n}条 右栏的第{n}条规定，内容较长需要折行显示以便测试阅读顺序。</p>" for n in "六七八九十")
    read = read_pdf(print_pdf(browser, f'<h2>标题</h2><div style="column-count:2;column-gap:40px">{left}{right}</div>'))
    starts = [line[:3] for line in read.lines if line.startswith("第")]
    assert starts == [f"第{n}条" for n in "一二三四五六七八九十"]


TABLE = [("序号", "任务", "牵头单位", "完成时限"), ("1", "建设跨河桥梁", "市水务局", "2024年6月底"),
         ("2", "完成河道清淤工作并通过验收", "市住建局", "2024年10月底")]


def ruled_table(browser: Browser) -> bytes:
    rows = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in TABLE)
    return print_pdf(browser, f"<h2>河道整治任务分解</h2><p>下表为任务分解。</p><table border=1 style='border-collapse:collapse'>{rows}</table><p>表后正文。</p>")


def test_a_ruled_table_becomes_rows_of_cells_in_place(browser: Browser) -> None:
    read = read_pdf(ruled_table(browser))
    rows = ["\t".join(row) for row in TABLE]
    assert [line for line in read.lines if "\t" in line] == rows
    assert read.lines.index(rows[0]) > read.lines.index("下表为任务分解。")
    assert read.lines.index("表后正文。") > read.lines.index(rows[-1])


def test_a_table_cell_in_a_pdf_is_answered_from_its_row(browser: Browser, hash_index: Path, tmp_path: Path) -> None:
    shutil.copytree(hash_index.resolve(), tmp_path / "build")
    (tmp_path / "index").symlink_to(tmp_path / "build")
    pipe = Pipeline.from_settings(settings_for(tmp_path / "index"))
    (tmp_path / "index.data" / "incoming").mkdir(parents=True)
    staged = tmp_path / "index.data" / "incoming" / "t.pdf"
    staged.write_bytes(ruled_table(browser))
    assert pipe.add_documents([("河道整治任务.pdf", staged)]).added == ["河道整治任务.pdf"]
    answer = pipe.ask("完成河道清淤工作的牵头单位是哪个？")
    cited = [c for c in answer.citations if c.doc == "河道整治任务.pdf"]
    assert cited and "市住建局" in answer.answer and cited[0].page == 1
    rows = [r for r in pipe.records().records if r.doc_id == "河道整治任务.pdf" and r.kind in ("table_row", "responsibility")]
    assert any("市住建局" in dict(r.fields).values() or "市住建局" in r.lead for r in rows)


def scanned(browser: Browser) -> tuple[bytes, bytes]:
    """A page of two articles as a picture (PNG), and a PDF whose second page is that picture
    only (a scan: no text layer), after a first page with text."""
    page = browser.new_page(viewport={"width": 800, "height": 300})
    try:
        page.set_content(f'<body style="font:20px sans-serif;padding:30px;background:#fff"><p>{ARTICLES[2]}</p><p>{ARTICLES[3]}</p></body>')
        png = page.screenshot()
    finally:
        page.close()
    image = base64.b64encode(png).decode()
    breaks = '<div style="break-after:page"></div>'
    pdf = print_pdf(browser, f"<h2>某市河道管理办法</h2><p>{ARTICLES[0]}</p>{breaks}<img style='width:100%' src='data:image/png;base64,{image}'>")
    return png, pdf


def test_a_scanned_page_is_read_by_ocr_with_its_page(browser: Browser) -> None:
    _, pdf = scanned(browser)
    read = read_pdf(pdf)
    page_two = "".join(line for line, page in zip(read.lines, read.pages, strict=True) if page == 2)
    assert "建设跨河桥梁" in page_two and "三十日内" in page_two and "五万元以下罚" in page_two
    assert "第一条" in "".join(line for line, page in zip(read.lines, read.pages, strict=True) if page == 1)


def test_an_uploaded_scan_image_is_answered_from_its_ocr_text(browser: Browser, hash_index: Path, tmp_path: Path) -> None:
    png, _ = scanned(browser)
    shutil.copytree(hash_index.resolve(), tmp_path / "build")
    (tmp_path / "index").symlink_to(tmp_path / "build")
    pipe = Pipeline.from_settings(settings_for(tmp_path / "index"))
    (tmp_path / "index.data" / "incoming").mkdir(parents=True)
    staged = tmp_path / "index.data" / "incoming" / "scan.png"
    staged.write_bytes(png)
    assert pipe.add_documents([("河道管理办法扫描件.png", staged)]).added == ["河道管理办法扫描件.png"]
    answer = pipe.ask("建设跨河桥梁应当在开工前多少日内报审？")
    cited = [c for c in answer.citations if c.doc == "河道管理办法扫描件.png"]
    assert cited and "三十日" in cited[0].quote and cited[0].page == 1


def test_the_chat_page_shows_the_page_of_a_pdf_citation(browser: Browser, tmp_path: Path, start_service: StartService,
                                                         open_page: Callable[..., Watched]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "河道管理办法.pdf").write_bytes(regulation(browser))
    ingest_paths([corpus], tmp_path / "index", HashEmbedder(64), store=DocumentStore(tmp_path / "index.data"))  # as `ragqa ingest` does
    service = start_service(tmp_path / "index", [])
    page = open_page(service.url + "/").page
    bot = ask(page, "建设跨河桥梁应当在开工前多少日内报审？")
    source = bot.locator(".rq-src").first
    expect(source).to_contain_text("第2页")
    source.click()  # the viewer: the cited lines, and the page as printed on request
    page.locator(".rq-page-btn").click()
    image = page.locator("img.rq-page")
    expect(image).to_be_visible()
    page.wait_for_function("() => { const i = document.querySelector('img.rq-page'); return i && i.complete && i.naturalWidth > 0; }")


def test_a_pdf_page_image_marks_the_cited_line(browser: Browser, hash_index: Path, tmp_path: Path) -> None:
    shutil.copytree(hash_index.resolve(), tmp_path / "build")
    (tmp_path / "index").symlink_to(tmp_path / "build")
    settings = settings_for(tmp_path / "index", admin_key="k")
    with TestClient(create_app(settings, Pipeline.from_settings(settings))) as client:
        files = {"files": ("河道管理办法.pdf", regulation(browser), "application/pdf")}
        assert client.post("/v1/documents", files=files, headers={"Authorization": "Bearer k"}).status_code == 200
        lines = client.get("/v1/documents/河道管理办法.pdf/lines").json()["lines"]
        cited = next(row for row in lines if "三十日" in row["text"])
        url = "/v1/documents/河道管理办法.pdf/pages/{}.png"
        plain = client.get(url.format(cited["page"]))
        marked = client.get(url.format(cited["page"]), params={"line": cited["n"]})
        assert plain.status_code == marked.status_code == 200 and marked.headers["content-type"] == "image/png"

        def yellow(png: bytes) -> int:
            with Image.open(io.BytesIO(png)) as image:
                rgb = np.asarray(image.convert("RGB")).astype(int)
            return int(((rgb[:, :, 0] - rgb[:, :, 2]) > 60).sum())

        assert yellow(plain.content) == 0 < yellow(marked.content)
        assert client.get(url.format(9)).json()["error"]["code"] == "not_found"
        text_doc = client.get("/v1/documents").json()["documents"][0]["doc"]
        assert client.get(f"/v1/documents/{text_doc}/pages/1.png").status_code == 404
