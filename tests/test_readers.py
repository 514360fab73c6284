from pathlib import Path

import pytest
from ragqa.ingest.errors import ReadError
from ragqa.ingest.readers import decode_text, read_document, read_html, read_tree, split_physical_lines


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
