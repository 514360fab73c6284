from pathlib import Path

import pytest
from ragqa.ingest.errors import ReadError
from ragqa.ingest.readers import decode_text, guess_title, read_document, read_html, read_tree, split_physical_lines


def test_decodes_utf8_bom_gbk_and_rejects_binary() -> None:
    assert decode_text("\ufeff第一条".encode("utf-8")) == "第一条"
    assert decode_text("第一条 规定".encode("utf-8-sig")) == "第一条 规定"
    assert decode_text("縣政府通知".encode("gb18030")) == "縣政府通知"
    assert decode_text("责任单位：市财政局".encode("gbk")) == "责任单位：市财政局"
    with pytest.raises(ReadError, match="binary"):
        decode_text(b"\x00\x01abc")


def test_physical_lines_follow_every_line_ending() -> None:
    assert split_physical_lines("a\r\nb\rc\nd\n") == ["a", "b", "c", "d"]
    assert split_physical_lines("a\n\nb") == ["a", "", "b"]


def test_html_keeps_text_on_its_physical_line() -> None:
    html = "<html><head><title>t</title><script>var x=1;</script></head>\n<body><h1>一、总则</h1>\n<p>第一条 <b>本办法</b>适用于全市。</p>\n</body></html>\n"
    lines = read_html(html.encode())
    assert lines == ["", "一、总则", "第一条 本办法适用于全市。", ""]


def test_read_tree_skips_unreadable_files_with_reasons(tiny_corpus: Path) -> None:
    docs, skipped = read_tree([tiny_corpus])
    names = {d.doc_id for d in docs}
    assert {"规定.txt", "計劃.md", "table.txt", "gbk.txt"} <= names
    assert [(Path(s.path).name, "binary" in s.reason) for s in skipped] == [("binary.txt", True)]


def test_read_document_titles_and_hashes(tiny_corpus: Path) -> None:
    doc = read_document(tiny_corpus / "計劃.md", "計劃.md")
    assert doc.title == "某縣2024年工作計劃"
    assert len(doc.sha256) == 64
    assert doc.line(1) == "# 某縣2024年工作計劃"


@pytest.mark.parametrize(
    ("lines", "title"),
    [
        # rules whose table of contents lists an article naming a notice
        (["某市仲裁委员会仲裁规则", "目 录", "第一章 总 则", "第十一条 发送仲裁通知"], "某市仲裁委员会仲裁规则"),
        # a law whose early articles name a plan: an article is never the title
        (["中华人民共和国某某法", "第一章 总则", "第四条 县级以上人民政府应当将该项工作纳入发展规划。"], "中华人民共和国某某法"),
        (["觀光旅館設備標準", "第1條", "本標準依某條例第二十三條規定訂定之。"], "觀光旅館設備標準"),
        # a title wrapped by extraction reads on; the addressee line ends it
        (["某县人民政府关于印发《某县三年行动计", "划》的通知", "各乡镇人民政府："], "某县人民政府关于印发《某县三年行动计划》的通知"),
        # a title wrapped after its first line: the short tail that names the kind takes the head above it
        (["2025年某市国民经济和社会发展", "统计公报", "某市统计局"], "2025年某市国民经济和社会发展统计公报"),
        # a letterhead or a document number above a short title is not part of it
        (["某市人民政府文件", "某政〔2020〕3号", "实施细则"], "实施细则"),
        (["各区人民政府（管委会）", "工作方案"], "工作方案"),
        (["签发人：张三", "实施细则"], "实施细则"),
        (["二〇二五年三月一日", "工作要点"], "工作要点"),
        (["某市统计局", "统计公报"], "统计公报"),
        # nothing names a kind of document: the first line shaped like a title, not an item or a sentence
        (["一、总体要求。", "某某工作要点汇编", "二、重点任务。"], "某某工作要点汇编"),
    ],
)
def test_the_title_is_the_line_that_names_the_document(lines: list[str], title: str) -> None:
    assert guess_title(lines, "fallback") == title


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="no such file"):
        read_tree([tmp_path / "nope"])


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf\xff\xfe broken", b"\xff\xfe\x41"], ids=["utf8-bom", "utf16-bom"])
def test_a_broken_byte_order_mark_skips_that_file_only(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "good.txt").write_text("第一条 正常的文件。\n", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(data)
    docs, skipped = read_tree([tmp_path])
    assert [d.doc_id for d in docs] == ["good.txt"]
    assert len(skipped) == 1 and "byte-order mark" in skipped[0].reason


def test_a_linked_folder_is_read_once_and_hidden_folders_are_left_out(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "sub").mkdir(parents=True)
    (shared / "sub" / "规定.txt").write_text("某市规定\n第一条 本规定适用于全市。\n", encoding="utf-8")
    (shared / "sub" / "back").symlink_to(shared, target_is_directory=True)  # a link back up: read once, no loop
    root = tmp_path / "root"
    (root / ".trash").mkdir(parents=True)
    (root / ".trash" / "old.txt").write_text("旧稿\n", encoding="utf-8")
    (root / "通知.txt").write_text("某县通知\n一、时间安排\n", encoding="utf-8")
    (root / "linked").symlink_to(shared, target_is_directory=True)
    docs, skipped = read_tree([root])
    assert sorted(d.doc_id for d in docs) == ["linked/sub/规定.txt", "通知.txt"]
    assert skipped == []
