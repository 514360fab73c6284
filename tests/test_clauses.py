"""The clause chunker on the five sample documents and on the failure modes of other chunkers."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from ragqa.ingest.clauses import chunk_document, detect_heading, table_cells
from ragqa.ingest.model import Chunk, Document, chunk_source_text
from ragqa.ingest.normalize import clean_line
from ragqa.ingest.readers import read_document
from ragqa.ingest.tokens import count_tokens

from .conftest import SAMPLES

SAMPLE_FILES = sorted(p.name for p in SAMPLES.iterdir())


def _doc(name: str) -> Document:
    return read_document(SAMPLES / name, name)


def _chunk_at(chunks: list[Chunk], line: int) -> Chunk:
    return next(c for c in chunks if c.start_line <= line <= c.end_line)


@pytest.fixture(scope="module")
def chunked() -> dict[str, tuple[Document, list[Chunk]]]:
    out = {}
    for name in SAMPLE_FILES:
        doc = _doc(name)
        out[name] = (doc, chunk_document(doc))
    return out


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_every_nonblank_line_is_in_exactly_one_chunk(chunked: dict[str, tuple[Document, list[Chunk]]], name: str) -> None:
    doc, chunks = chunked[name]
    owners: dict[int, int] = {}
    for i, c in enumerate(chunks):
        assert c.start_line <= c.end_line
        for n in range(c.start_line, c.end_line + 1):
            if doc.line(n).strip() and owners.get(n, i) != i and not (c.start_char or chunks[owners[n]].end_char is not None):
                pytest.fail(f"line {n} is in chunks {owners[n]} and {i}")
            owners.setdefault(n, i)
    nonblank = {n for n, line in enumerate(doc.lines, start=1) if line.strip()}
    assert set(owners) >= nonblank


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_chunk_text_is_its_source_and_chunks_are_in_order(chunked: dict[str, tuple[Document, list[Chunk]]], name: str) -> None:
    doc, chunks = chunked[name]
    for prev, c in itertools.pairwise(chunks):
        assert (prev.end_line, prev.end_char if prev.end_char is not None else 10**9) <= (c.start_line, c.start_char if c.start_char else 10**9) or prev.end_line < c.start_line
    for c in chunks:
        assert c.text == chunk_source_text(doc, c)
        assert c.match_text


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_split_parts_of_one_line_rebuild_the_line(chunked: dict[str, tuple[Document, list[Chunk]]], name: str) -> None:
    doc, chunks = chunked[name]
    by_line: dict[int, list[Chunk]] = {}
    for c in chunks:
        if c.start_line == c.end_line and (c.start_char or c.end_char is not None):
            by_line.setdefault(c.start_line, []).append(c)
    for n, parts in by_line.items():
        if parts[0].start_char == 0 and parts[-1].end_char is None:
            assert "".join(p.text for p in parts) == doc.line(n)


def test_chunks_respect_the_token_budget(chunked: dict[str, tuple[Document, list[Chunk]]]) -> None:
    for _, chunks in chunked.values():
        for c in chunks:
            cleaned = "".join(clean_line(part) for part in c.text.split("\n"))
            assert count_tokens(cleaned) <= 350 or "。" not in cleaned[:-1], (c.doc_id, c.start_line)


KNOWN_PATHS = [
    ("000_f32850ce6c833049.txt", 21, "关于高质量做好市十六届人大一次会议一号议案办理工作的实施方案 › 一、指导思想"),
    ("000_f32850ce6c833049.txt", 37, "关于高质量做好市十六届人大一次会议一号议案办理工作的实施方案 › 三、工作任务 › (二)实施工业转型升级行动"),
    ("000_f32850ce6c833049.txt", 57, "关于高质量做好市十六届人大一次会议一号议案办理工作的实施方案 › 四、实施步骤 › (一)部署阶段(2022年4月) › 一是研究制定办理工作方案,确定2022年年度目标和远期阶段性目标"),
    ("000_f32850ce6c833049.txt", 65, "关于高质量做好市十六届人大一次会议一号议案办理工作的实施方案 › 四、实施步骤 › (三)总结阶段(2022年12月)"),
    ("000_f32850ce6c833049.txt", 100, "附件 › 市十六届人大一次会议一号议案办理工作任务清单 › 序号 8"),
    ("001_c639e19f48d489c6.txt", 14, "(一)坚持首位战略,实现人才科创能级显著提升"),
    ("001_c639e19f48d489c6.txt", 40, "(六)聚焦多元贯通,实现社会治理效能显著提升"),
    ("002_c48d23b415dc882a.txt", 45, "三、工作舉措 › (五)構建管行業必須管產業發展的責任機制 › 1.明確工作責任"),  # an item that opens with 明確 is no cross-reference
    ("003_9350541e24857315.txt", 23, "一、黄胜可市长牵头的重点工作 › 1.全面完成2023年全市经济社会发展预期目标"),
    ("003_9350541e24857315.txt", 79, "二、郭锦明常务副市长牵头的重点工作 › 1.完成上级下达的能源指标计划目标"),
    ("003_9350541e24857315.txt", 137, "二、郭锦明常务副市长牵头的重点工作 › 17.新增上市企业2家以上"),
    ("004_4b312b31d1550f2c.txt", 31, "一、开启高水平现代化建设新征程,谱写“重要窗口”时代新篇章 › 5.“十四五”时期经济社会发展主要目标"),
    ("004_4b312b31d1550f2c.txt", 135, "六、以空间优化为契机深度推进区域协调发展 › 23.优化市域城镇空间布局"),
]


@pytest.mark.parametrize(("name", "line", "path"), KNOWN_PATHS)
def test_known_clause_paths(chunked: dict[str, tuple[Document, list[Chunk]]], name: str, line: int, path: str) -> None:
    _, chunks = chunked[name]
    assert _chunk_at(chunks, line).clause == path


def test_numbering_that_restarts_per_leader_gets_the_right_parent(chunked: dict[str, tuple[Document, list[Chunk]]]) -> None:
    _, chunks = chunked["003_9350541e24857315.txt"]
    first_items = [c.clause_path for c in chunks if len(c.clause_path) == 2 and c.clause_path[1].startswith("1.")]
    parents = [p[0][:2] for p in first_items]
    assert parents[:5] == ["一、", "二、", "三、", "四、", "五、"]


def _paths_at(chunks: list[Chunk], lines: dict[int, str]) -> dict[int, str]:
    """The clause path of the chunk that holds each of `lines`."""
    return {line: _chunk_at(chunks, line).clause for line in lines}


def _mini(text: str) -> list[Chunk]:
    doc = Document("mini.txt", "mini", tuple(text.split("\n")))
    return chunk_document(doc)


def test_a_heading_without_body_joins_its_first_subclause() -> None:
    chunks = _mini("三、工作任务\n\n(一)实施平台行动。推进平台建设。\n\n(二)实施转型行动。推进转型。")
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 3), (5, 5)]
    assert chunks[0].clause == "三、工作任务 › (一)实施平台行动"
    assert all(c.text.strip() != "三、工作任务" for c in chunks)


def test_cross_references_are_not_headings() -> None:
    assert detect_heading("(二)的要求落实到位") is None
    assert detect_heading("第3条规定的事项由市政府负责") is None
    chunks = _mini("第一条 总则。\n按照(二)的要求,见第3条。\n第二条 附则。")
    assert [(c.start_line, c.end_line, c.clause) for c in chunks] == [(1, 2, "第一条总则"), (3, 3, "第二条附则")]


def test_inserted_articles_are_articles_and_their_references_are_not() -> None:
    chunks = _mini("第18條 以欺騙手段取得金錢利益\n(1) 任何人即屬犯罪。\n第18C條 不付款而離去\n(1) 不誠實地離去，即屬犯罪。")
    assert [(c.start_line, c.end_line, c.clause.split(" › ")[0]) for c in chunks] == [(1, 2, "第18條以欺騙手段取得金錢利益"), (3, 4, "第18C條不付款而離去")]
    assert detect_heading("第一百二十条之一 为了保障安全，制定本条。") is not None
    assert detect_heading("第十条之一的规定适用于本办法") is None
    assert detect_heading("第三条之规定不适用") is None


def test_mixed_numbering_systems_form_one_hierarchy() -> None:
    text = "一、目标\n(一)经济\n1.增长6%。\n(1)工业增长8%。\n(2)服务业增长7%。\n2.投资增长。\n(二)社会\n一是就业。\n二、措施\n1.加强领导。"
    chunks = _mini(text)
    assert _chunk_at(chunks, 4).clause == "一、目标 › (一)经济 › 1.增长6% › (1)工业增长8%"
    assert _chunk_at(chunks, 5).clause == "一、目标 › (一)经济 › 1.增长6% › (2)服务业增长7%"
    assert _chunk_at(chunks, 6).clause == "一、目标 › (一)经济 › 2.投资增长"
    assert _chunk_at(chunks, 8).clause == "一、目标 › (二)社会 › 一是就业"
    assert _chunk_at(chunks, 10).clause == "二、措施 › 1.加强领导"


def test_a_chapter_is_never_inside_the_numbered_items_of_a_preamble() -> None:
    # A syllabus or model contract numbers its preamble 一、二、 or 1.2. and then restarts the same
    # numbering inside each 第X章: the chapter closes the preamble's items, and its own items
    # (and a 第X节 with its items) sit under it.
    text = "一、课程性质\n本课程是选考课。\n二、课程目标\n掌握方法。\n第1章 概论\n一、学习目的\n了解软件危机。\n二、考核要求\n识记软件的定义。\n第1节 定义\n1.软件。\n第2章 分析\n一、学习目的\n掌握可行性研究。"
    expected = {2: "一、课程性质", 7: "第1章概论 › 一、学习目的", 9: "第1章概论 › 二、考核要求", 11: "第1章概论 › 第1节定义 › 1.软件",
                14: "第2章分析 › 一、学习目的"}
    assert _paths_at(_mini(text), expected) == expected


def test_a_document_bundled_under_its_own_title_line_is_a_division() -> None:
    # A notice that attaches its 实施方案, or a set of syllabi in one file: each bundled document's
    # title line heads the clauses under it, and its numbering starts afresh there. A line of the
    # document's own title, a line in the title block and a sentence are not such titles.
    text = "关于印发工作方案的通知\n\n各部门：现将方案印发给你们。\n关于印发工作方案的通知\n甲市乙项工作实施方案\n一、目标\n完成任务。\n二、措施\n加强领导。\n丙项工作考核细则\n一、考核对象\n各部门。\n按照本细则考核，具体见考核办法。"
    chunks = chunk_document(Document("mini.txt", "关于印发工作方案的通知", tuple(text.split("\n"))))
    expected = {3: "", 7: "甲市乙项工作实施方案 › 一、目标", 9: "甲市乙项工作实施方案 › 二、措施", 12: "丙项工作考核细则 › 一、考核对象",
                13: "丙项工作考核细则 › 一、考核对象"}
    assert _paths_at(chunks, expected) == expected


def test_no_headings_still_gives_budget_sized_chunks() -> None:
    sentence = "各部门要加强协调配合，形成工作合力，确保各项任务按期完成。"
    text = "\n".join(sentence * 3 for _ in range(30))
    doc = Document("flat.txt", "flat", tuple(text.split("\n")))
    chunks = chunk_document(doc, budget=120)
    assert len(chunks) > 5
    assert all(count_tokens(c.text) <= 120 for c in chunks)


def test_one_long_line_is_split_at_sentence_ends_with_offsets() -> None:
    line = "".join(f"第{i}项任务按期完成并通过验收。" for i in range(60))
    doc = Document("long.txt", "long", (line,))
    chunks = chunk_document(doc, budget=100)
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks) == line
    assert all(c.text.endswith("。") for c in chunks)


def test_table_rows_are_chunks_with_their_header(tiny_corpus: Path) -> None:
    doc = read_document(tiny_corpus / "table.txt", "table.txt")
    rows = [c for c in chunk_document(doc) if c.kind == "table_row"]
    assert [(c.start_line, c.end_line) for c in rows] == [(2, 4), (5, 5)]
    assert rows[1].clause == "序号 2"
    assert "牵头单位" in rows[1].context and "市人社局" in rows[1].text


def test_pipe_rows_without_outer_pipes_are_table_rows() -> None:
    """GitHub lets a table leave out its outer pipes; a line with one pipe, or a path written
    with slashes, stays prose."""
    lines = ("土地出让公告", "宗地编号 | 位置 | 起始价", "---|---|---", "A-01 | 东区 | 840万元",
             "A-02 | 西区 | 720万元 |", "注：两宗地 | 均为商业用地。")
    assert table_cells(lines[1]) == ["宗地编号", "位置", "起始价"]
    assert table_cells(lines[2]) == []
    assert table_cells(lines[4]) == ["A-02", "西区", "720万元"]
    assert table_cells(lines[5]) is None
    rows = [c for c in chunk_document(Document("land.txt", "土地出让公告", lines)) if c.kind == "table_row"]
    assert [(c.start_line, c.end_line) for c in rows] == [(2, 4), (5, 5)]
    assert rows[1].clause.endswith("宗地编号 A-02") and "起始价" in rows[1].context


def test_a_second_header_row_and_indented_sub_rows_are_read_with_what_they_are_under() -> None:
    """A header cell over two columns (its span lost in the text, so the row below is wider) heads
    both of them; an indented row of a statistical table is read under the row it is indented
    under, so two "第三产业" rows of different totals stay apart. A table whose first data row is
    as wide as its header keeps that row as data."""
    lines = ("单位情况公报", "表1 单位数", " | 单位 | 个体户", " | 数量（万个） | 比重（%） | 数量（万个） | 比重（%）",
             "一、法人单位 | 3327.0 | 100.0 | 8799.5 | 100.0", "　　第三产业 | 2911.9 | 80.1 | 7912.0 | 89.9",
             "二、产业活动单位 | 3636.0 | 100.0 | - | -", "　　第三产业 | 2911.9 | 80.1 | - | -", "", "表2 名册",
             "姓名 | 职务 | 单位", "王明 | 主任 | 办公室", "李华 | 科长 | 财务科")
    rows = [c for c in chunk_document(Document("census.txt", "单位情况公报", lines)) if c.kind == "table_row"]
    assert [(c.start_line, c.end_line) for c in rows[:2]] == [(3, 5), (6, 6)]
    assert all("个体户 比重(%)" in c.context for c in rows[:4]), rows[1].context
    assert rows[1].clause.endswith("一、法人单位 第三产业") and rows[3].clause.endswith("二、产业活动单位 第三产业")
    assert rows[2].clause.endswith(" 二、产业活动单位")
    roster = [c for c in rows if c.start_line >= 11]
    assert [(c.start_line, c.end_line) for c in roster] == [(11, 12), (13, 13)] and roster[0].clause.endswith("姓名 王明")


def test_a_line_without_punctuation_is_cut_to_the_token_budget() -> None:
    doc = Document("run.txt", "t", ("无标点长行" * 20_000, "1．放火罪 2．决水罪 3．爆炸罪 " * 200))
    chunks = chunk_document(doc, 100)
    assert max(count_tokens(c.text) for c in chunks) <= 100
    assert "".join(c.text for c in chunks if c.start_line == 1) == doc.lines[0]
    second = [c.text for c in chunks if c.start_line == 2]
    assert len(second) > 1 and all(t[0].isdigit() for t in second), second[:3]  # cut at item markers


def test_a_numbered_item_that_fills_its_pdf_line_reads_on_into_the_next() -> None:
    """A line that opens with an item marker is a heading of its own, unless it is as wide as the
    widest line of its passage (the width the PDF wrapped at): then the item reads on."""
    from ragqa.ingest.sentences import split_sentences

    lines = ("评审工作通知", "一、奖励对象", "（一）国家奖学金的奖励对象为全日制普通本科二年级及以",
             "上特别优秀的学生，每学年评审一次。", "（二）评审程序", "学院评审小组按名额推荐。")
    sentences = [s for c in chunk_document(Document("notice.txt", "评审工作通知", lines)) for s in split_sentences(c)]
    texts = [s.text for s in sentences]
    assert "（一）国家奖学金的奖励对象为全日制普通本科二年级及以上特别优秀的学生，每学年评审一次。" in texts
    assert "（二）评审程序" in texts and "学院评审小组按名额推荐。" in texts
    assert [(s.start_line, s.end_line) for s in sentences if s.text.startswith("（一）")] == [(3, 4)]


def test_a_table_of_contents_is_one_passage_and_the_body_keeps_its_clause_paths() -> None:
    lines = ("仲裁规则", "目  录", "第一章 总 则", "第一条 本会 …… 1", "第二条 适用范围 …… 2", "第二章 仲裁协议", "第三条 协议的形式 …… 3",
             "第一章 总 则", "第一条 本会设在省会城市。", "第二条 本规则适用于本会受理的案件。", "第二章 仲裁协议", "第三条 仲裁协议应当采用书面形式。")
    chunks = chunk_document(Document("rules.txt", "仲裁规则", lines))
    contents = _chunk_at(chunks, 4)
    assert (contents.start_line, contents.end_line, contents.clause) == (2, 7, "目录")
    assert _chunk_at(chunks, 9).clause == "第一章总则 › 第一条本会设在省会城市"
    assert _chunk_at(chunks, 12).clause == "第二章仲裁协议 › 第三条仲裁协议应当采用书面形式"
    # Without a repeated first entry the short lines under 目录 are the body's own headings.
    alone = chunk_document(Document("list.txt", "清单", ("清单", "目录", "第一条 甲。", "第二条 乙。")))
    assert _chunk_at(alone, 4).clause == "第二条乙"


def test_a_row_narrower_than_the_header_takes_the_cells_spanning_it_from_the_row_above() -> None:
    lines = ("最低价标准", "地级市 | 区 | 街道 | 最低价格", "甲市 | 东区 | 一街道、二街道 | 230", "西区 | 三街道 | 228", "四街道 | 179",
             "说明文字。", "项目 | 金额 | 备注", "甲 | 50 | 说明", "合计 | 100", "鼓楼\t9580\t台江\t4170", "高新区\t1350")
    rows = {c.start_line: c for c in chunk_document(Document("price.txt", "最低价标准", lines)) if c.kind == "table_row"}
    assert rows[4].clause.endswith("地级市 甲市 西区") and rows[5].clause.endswith("地级市 甲市 西区 四街道")  # "a | b" inside a table is a row
    assert rows[9].clause.endswith("项目 合计")  # a number under text: its trailing cells were left out, nothing spans it
    assert rows[11].clause.endswith("高新区") and "台江" not in rows[11].clause  # pairs side by side: numbers are no labels
    assert _chunk_at(chunk_document(Document("t.txt", "t", ("标题", "甲 | 乙"))), 2).kind != "table_row"  # outside a table it is text
