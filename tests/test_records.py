"""Records: responsibility rows, table rows, articles and glossary entries, extracted at ingest
and listed whole. Document 003's rows are checked against a table written by hand
(tests/data/records_003.tsv, by a reader who did not see the extractor); the leader and unit
checks are generated from it."""

from __future__ import annotations

import csv
import itertools
import re
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ragqa.index.build import index_behind
from ragqa.index.store import read_manifest
from ragqa.ingest.docstore import DocumentStore
from ragqa.ingest.model import Document
from ragqa.ingest.readers import read_files
from ragqa.ingest.records import Record, aligned, extract_records, split_lead, units_of
from ragqa.ingest.units import unit_key
from ragqa.service.app import create_app
from ragqa.service.pipeline import Pipeline

from .conftest import ROOT, SAMPLES, settings_for

DOC_003 = "003_9350541e24857315.txt"
EXPECTED = ROOT / "tests" / "data" / "records_003.tsv"
CORPORA = ROOT / "eval" / "corpora"


def _read(path: Path) -> Document:
    docs, skipped = read_files([path])
    assert not skipped
    return docs[0][0]


def _expected() -> list[dict[str, str]]:
    with EXPECTED.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _key(row: dict[str, str]) -> tuple[int, str]:
    return int(row["first_line"]), row["number"]


def _split(units: str) -> list[str]:
    return units_of(units) if units else []


@pytest.fixture(scope="module")
def doc_003_records() -> list[Record]:
    return [r for r in extract_records(_read(SAMPLES / DOC_003)) if r.kind == "responsibility"]


@pytest.fixture(scope="module")
def client(hash_index: Path) -> TestClient:
    settings = settings_for(hash_index)
    return TestClient(create_app(settings, Pipeline.from_settings(settings)))


def test_every_row_of_document_003_is_the_hand_checked_row(doc_003_records: list[Record]) -> None:
    expected = _expected()
    got = {(r.start_line, r.number): r for r in doc_003_records}
    assert len(doc_003_records) == len(expected) == 146
    for row in expected:
        record = got[_key(row)]
        assert record.end_line == int(row["last_line"]), row
        assert record.persons == (row["leader"],), row
        assert list(record.lead) == _split(row["lead_units"]), row
        assert list(record.co) == _split(row["co_units"]), row
        assert record.text.replace(" ", "").startswith(row["task_start"]), row
        assert row["section"].replace(" ", "") in "".join(record.group).replace(" ", ""), row


def test_each_leader_lists_exactly_their_rows(client: TestClient) -> None:
    expected = _expected()
    leaders = sorted({row["leader"] for row in expected})
    assert len(leaders) == 8
    for leader in leaders:
        body = client.get("/v1/records", params={"person": leader, "doc": DOC_003, "page_size": 500}).json()
        got = sorted((r["start_line"], r["number"]) for r in body["records"])
        assert got == sorted(_key(row) for row in expected if row["leader"] == leader), leader
        assert body["total"] == len(got)


def test_ten_lead_units_list_exactly_their_rows(client: TestClient) -> None:
    expected = _expected()
    counts = Counter(unit_key(u) for row in expected for u in _split(row["lead_units"]))
    units = [u for u, _ in counts.most_common(10)]
    for unit in units:
        body = client.get("/v1/records", params={"unit": unit, "role": "lead", "doc": DOC_003, "page_size": 500}).json()
        got = sorted((r["start_line"], r["number"]) for r in body["records"])
        want = sorted(_key(row) for row in expected if unit in {unit_key(u) for u in _split(row["lead_units"])})
        assert got == want, unit


def test_a_list_question_answers_with_every_row_each_cited(client: TestClient) -> None:
    expected = [row for row in _expected() if row["leader"] == "胡利群" and row["part"] == "民生实事"]
    body = client.post("/v1/ask", json={"question": "胡利群作为牵头市领导负责哪几项民生实事？"}).json()
    listing = body["listing"]
    assert listing["total"] == len(listing["rows"]) == len(expected) == 3
    cited = {c["id"]: c for c in body["citations"]}
    lines = client.get(f"/v1/documents/{DOC_003}/lines").json()["lines"]
    for row, want in zip(listing["rows"], expected, strict=True):
        citation = cited[row["citation"]]
        assert (citation["start_line"], citation["end_line"]) == (int(want["first_line"]), int(want["last_line"]))
        assert citation["quote"] == "\n".join(line["text"] for line in lines[citation["start_line"] - 1 : citation["end_line"]])
        assert f"[{row['citation']}]" in body["answer"]
    assert "共3项" in body["answer"]
    export = client.get(listing["export"]["csv"])
    assert export.status_code == 200
    assert export.text.count("\n") == 1 + 3


def test_a_unit_in_short_or_full_form_lists_the_same_rows(client: TestClient) -> None:
    answers = [client.post("/v1/ask", json={"question": q}).json() for q in ("市发改局牵头哪些重点工作？", "发展和改革局牵头哪些重点工作？", "市發改局牽頭哪些重點工作？")]
    rows = [[r["cells"][0:2] for r in a["listing"]["rows"]] for a in answers]
    assert rows[0] == rows[1] == rows[2] and len(rows[0]) >= 10


def test_a_body_no_task_names_is_refused_with_the_reason(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "市外事办牵头负责哪些重点工作？"}).json()
    assert body["refused"] and "外事办" in body["answer"] and body["listing"] is None


def test_a_question_for_an_amount_a_body_bears_is_no_task_list(client: TestClient) -> None:
    for question in ("市外事办承担的风险比例最低是多少？", "市发改局牵头的工作经费最多是多少万元？"):
        body = client.post("/v1/ask", json={"question": question}).json()
        assert body["listing"] is None and "的任务" not in body["answer"], (question, body["answer"])


def test_bad_record_queries_get_a_clear_4xx_or_an_empty_page(client: TestClient) -> None:
    assert client.get("/v1/records", params={"unit": "局" * 1000}).json()["error"]["code"] == "filter_too_long"
    assert client.get("/v1/records", params={"type": "poem"}).json()["error"]["code"] == "unknown_record_type"
    page = client.get("/v1/records", params={"page": 100000})
    assert page.status_code == 200 and page.json()["records"] == [] and page.json()["total"] > 0
    assert client.get("/v1/records", params={"role": "boss"}).status_code == 422
    assert client.get("/v1/records/export.pdf").status_code == 404


def test_the_xlsx_export_holds_the_listed_rows(client: TestClient, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    reply = client.get("/v1/records/export.xlsx", params={"person": "徐健"})
    assert reply.status_code == 200 and "spreadsheetml" in reply.headers["content-type"]
    (tmp_path / "x.xlsx").write_bytes(reply.content)
    sheet = load_workbook(tmp_path / "x.xlsx").active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("文档", "分组", "类型", "序号", "内容")
    assert [r[3] for r in rows[1:]] == ["1", "2", "3", "4", "5"]


# --- the forms of other documents --------------------------------------------------------------


def test_bracketed_duties_of_state_council_opinions() -> None:
    lines = (
        "一、主要任务",
        "1.拓展市场。推广试点。（税务总局、财政部、海关总署负责，排在第一位的部门为牵头部门，下同）",
        "2.强化培训。开展培训。（人力资源社会保障部、财政部负责。列第一位者为牵头单位，下同）",
        "3.稳定岗位。加大支持。（人力资源社会保障部、科技部，各省级人民政府按职责分工负责）",
        "4.支持创业。建设载体。（教育部会同财政部负责）5.扩大见习。提高补贴。（农业农村部、工业和信息化部牵头负责）",
    )
    records = extract_records(Document("o.txt", "意见", lines))
    duties = [(r.number, r.lead, r.co) for r in records]
    assert duties == [
        ("1", ("税务总局",), ("财政部", "海关总署")),
        ("2", ("人力资源社会保障部",), ("财政部",)),
        ("3", ("人力资源社会保障部",), ("科技部", "各省级人民政府")),
        ("4", ("教育部",), ("财政部",)),
        ("5", ("农业农村部", "工业和信息化部"), ()),
    ]
    assert records[3].text == "支持创业。建设载体。" and records[0].group == ("一、主要任务",)


def test_lead_units_follow_the_documents_rule() -> None:
    assert split_lead("**市公安局**, 市打击治理电信网络新型违法犯罪 联席会议各成员单位") == (["市公安局"], ["市打击治理电信网络新型违法犯罪联席会议各成员单位"])
    assert split_lead("市府办、市司法局, 市政府各部门") == (["市府办", "市司法局"], ["市政府各部门"])
    assert split_lead("市民政局、市财政局") == (["市民政局"], ["市财政局"])
    assert units_of("市政府各部门,各镇、乡人民政府,各街道办 事处") == ["市政府各部门", "各镇、乡人民政府", "各街道办事处"]
    assert units_of("市发改局、银保监(列第一位者为工作牵头或汇总单位,配合部门排名不分先后)") == ["市发改局", "银保监"]


def test_table_rows_with_responsibility_columns_and_traditional_labels(tiny_corpus: Path) -> None:
    table = extract_records(_read(tiny_corpus / "table.txt"))
    assert [(r.number, r.text, r.lead, r.co) for r in table] == [
        ("1", "建设产业园", ("市经信局",), ("市财政局",)),
        ("1", "二期工程", ("市经信局",), ("市住建局",)),  # 序号 and 牵头单位 merged down
        ("2", "人才引进", ("市人社局",), ("市科技局",)),
    ]
    assert unit_key("縣發改局") == unit_key("发改局") == unit_key("市发展和改革局")


def test_a_header_cell_spanning_several_columns(tmp_path: Path) -> None:
    # "重点任务" heads the category, the number and the task: the role columns are the row's last cells
    path = tmp_path / "plan.txt"
    path.write_text(
        "重点任务分工\n重点任务\t牵头单位\t配合单位\t完成时限\n一、完善制度\t1\t制定办法。\t市公安局\t市财政局、市民政局\t2015年\n"
        "2\t建立专项资金。\t市人社局\t\t2016年\n",
        encoding="utf-8",
    )
    rows = extract_records(_read(path))
    assert [(r.lead, r.co, r.deadline) for r in rows] == [(("市公安局",), ("市财政局", "市民政局"), "2015年"), (("市人社局",), (), "2016年")]
    assert dict(rows[0].fields)["重点任务"] == "一、完善制度 1 制定办法。"
    assert aligned(["序号", "任务", "牵头单位"], ["1", "修路"]) == ["1", "修路", ""]


def test_articles_glossary_and_table_rows_of_the_genre_corpus() -> None:
    law = _read(CORPORA / "law" / "housing_provident_fund_regulation.txt")
    records = extract_records(law)
    articles = [r for r in records if r.kind == "article"]
    heads = [n for n, line in enumerate(law.lines, start=1) if re.match(r"^\s*第[一二三四五六七八九十百零]+条", line)]
    assert [r.start_line for r in articles] == heads
    assert articles[0].number == "第一条" and articles[0].group and articles[0].group[0].startswith("第一章")
    assert all(r.end_line < s.start_line for r, s in itertools.pairwise(articles))
    glossary = {r.number: r.text for r in records if r.kind == "glossary"}
    assert glossary["住房公积金"].startswith("国家机关")
    notice = extract_records(_read(CORPORA / "notice" / "gov_innovation_reform_measures_2018.txt"))
    rows = [r for r in notice if r.kind == "table_row"]
    assert len(rows) == 17 and rows[0].number == "1"
    assert dict(rows[0].fields)["改革举措"].startswith("知识产权民事、刑事、行政案件")


def test_an_index_of_another_record_version_is_rebuilt(hash_index: Path, tmp_path: Path) -> None:
    manifest = read_manifest(hash_index)
    store = DocumentStore(tmp_path / "store")
    assert manifest["records"]
    assert index_behind(store, hash_index)  # another corpus: behind either way
    copy = tmp_path / "index"
    copy.mkdir()
    for part in hash_index.iterdir():
        if part.is_file():
            (copy / part.name).write_bytes(part.read_bytes())
    (copy / "manifest.json").write_text((hash_index / "manifest.json").read_text().replace(str(manifest["records"]), "records-0"))
    with pytest.raises(Exception, match="another ragqa version"):
        Pipeline.from_settings(settings_for(copy))


def test_traditional_articles_are_articles() -> None:
    law = _read(CORPORA / "zh-hant" / "tw_labor_pension_act.txt")
    articles = [r for r in extract_records(law) if r.kind == "article"]
    heads = [n for n, line in enumerate(law.lines, start=1) if re.match(r"^第\s*\d+(?:-\d+)?\s*條", line)]
    assert [r.start_line for r in articles] == heads and articles[0].number == "第1条"


def test_a_definition_question_quotes_the_defining_sentence(tmp_path: Path) -> None:
    from ragqa.index.build import ingest_paths
    from ragqa.index.embedders import HashEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "rule.txt").write_text(
        "某市停车管理办法\n第一条 为规范停车管理，制定本办法。\n第二条 本办法所称公共停车场，是指供社会车辆停放的场所。\n"
        "第三条 公共停车场的收费标准由市发展改革部门制定。\n",
        encoding="utf-8",
    )
    ingest_paths([corpus], tmp_path / "index", HashEmbedder(64))
    settings = settings_for(tmp_path / "index")
    with TestClient(create_app(settings, Pipeline.from_settings(settings))) as client:
        body = client.post("/v1/ask", json={"question": "什么是公共停车场？"}).json()
        assert "供社会车辆停放的场所" in body["answer"] and body["citations"][0]["start_line"] == 3
        other = client.post("/v1/ask", json={"question": "公共停车场的收费标准由谁制定？"}).json()
        assert "是指" not in other["answer"]


def test_terms_defined_by_dash_by_english_name_and_by_a_standards_entry() -> None:
    lines = (
        "某考试大纲",
        "综合分析能力——对给定资料的内容进行分析和归纳，作出合理的推断。",
        "3 术语和定义",
        "下列术语和定义适用于本文件。",
        "3.1",
        "收发装置 collection and transmission device",
        "在联网系统中用于收集并转发报警信息",
        "的设备。",
        "注：收发装置可以内置电池。",
        "3.2",
        "现场端平台 on-site platform",
        "在现场接收和处理各设备信息的管理终端。",
        "待決案件 ( lis pendens )指 ——",
        "(a) 任何與土地有關的訴訟；及",
        "(b) 一項破產呈請；",
        "紀錄 ( record )不僅包括書面紀錄； 影像 ( image )指用影像處理方法製作的紀錄；",
        "2020年——2025年的目标如下。",
    )
    found = {r.number: r for r in extract_records(Document("d", "某考试大纲", lines)) if r.kind == "glossary"}
    assert found["综合分析能力"].text.startswith("对给定资料") and found["综合分析能力"].start_line == 2
    device = found["收发装置"]
    assert (device.start_line, device.end_line) == (6, 8) and device.text == "在联网系统中用于收集并转发报警信息的设备。"  # the note is not part of it
    assert (found["现场端平台"].start_line, found["现场端平台"].end_line) == (11, 12)
    pending = found["待決案件"]
    assert (pending.start_line, pending.end_line) == (13, 15) and "破產呈請" in pending.text
    assert found["影像"].text.startswith("用影像處理方法")
    assert "紀錄" not in found and not any(n.startswith("2020") for n in found)  # no 指: no definition; a year range is no term


def test_a_definition_question_with_words_of_its_own_still_gets_the_one_definition(tmp_path: Path) -> None:
    from ragqa.index.build import ingest_paths
    from ragqa.index.embedders import HashEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "plan.txt").write_text(
        "某市粮食应急预案\n1 总则\n本预案所称粮食应急状态，是指因突发事件引起粮食供求关系突变的状况。\n"
        "2 组织体系\n市粮食应急指挥部负责组织实施。\n",
        encoding="utf-8",
    )
    (corpus / "guide.txt").write_text(
        "某标准\n3 术语和定义\n3.1\n收发装置 collection and transmission device\n用于收集并转发报警信息的设备。\n4 要求\n收发装置应当外部供电。\n",
        encoding="utf-8",
    )
    ingest_paths([corpus], tmp_path / "index", HashEmbedder(64))
    settings = settings_for(tmp_path / "index")
    with TestClient(create_app(settings, Pipeline.from_settings(settings))) as client:
        for question, expected in (("预案里说的“粮食应急状态”具体指什么情况？", "供求关系突变"),
                                   ("标准里的“收发装置”是怎么定义的？", "收集并转发"),
                                   ("「收發裝置」指甚麼？", "收集并转发")):
            body = client.post("/v1/ask", json={"question": question}).json()
            assert expected in body["answer"], (question, body["answer"])
            assert body["citations"][0]["doc"] in ("plan.txt", "guide.txt")


def test_the_items_of_a_definitions_article_are_glossary_entries() -> None:
    lines = ("某條例", "第 2 條", "本條例用詞，定義如下：", "一、菸品：指全部或部分以菸草為原料製成之產品。", "二、吸菸：指吸用、嚼用菸品之行為。",
             "三、主管機關：指導各地辦理宣導。", "第 3 條", "（一）基本支出：指為保障機構正常運轉而發生的人員經費。")
    found = {r.number: r for r in extract_records(Document("d", "某條例", lines)) if r.kind == "glossary"}
    assert found["菸品"].text.startswith("全部或部分以菸草") and found["菸品"].start_line == 4
    assert found["吸菸"].start_line == 5 and found["基本支出"].start_line == 8
    assert "主管機關" not in found  # 指導 is a verb, not "means"
