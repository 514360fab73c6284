"""The extractive answerer on a small made-up corpus shaped like the real one: a notice with a
signature date, a web page with a publication date and metadata lines, numbered targets with
years, an enumeration across ；, and two places. Real chunker, BM25 and FAISS (hash embedder)."""

from __future__ import annotations

import re

import pytest

from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.index.keyword import strip_frame, tokenize
from ragqa.service.pipeline import Pipeline
from ragqa.service.question import has_date, profile_question, year_fits, years_in
from ragqa.service.sentences import split_sentences

from .conftest import settings_for

NOTICE = """义乌市人民政府文件
义政发〔2023〕5号
义乌市2023年工作要点
一、主要目标
1.地区生产总值增长6%以上;新增规上工业企业50家。
2.到2025年,累计新增高技能人才1万人以上。
3.推行企业服务一站式办理,编制企业服务指南,为企业提供规范化指引。建立问题清单,限时办结(责任单位:市经信局、市商务局,协同单位:市财政局)。
二、服务企业
秉持“三到精神”,既要无事不到,减少对企业经营的干预;又要随叫随到,及时解决企业困难;更要服务周到,做到准确及时。
三、发展目标
——努力打造创新活跃的科创高地。研发投入持续增加,建成省级重点实验室2家。
——努力打造宜居宜业的美丽城市。空气质量持续改善,成功创建国家卫生城市。
四、远景目标
到二〇三五年,义乌市将基本实现高水平现代化。
义乌市人民政府
2023年2月1日
"""

WEB_PAGE = """磐安县2022年工作计划
磐安县人民政府
2022-03-15
主动公开
2022年,是磐安县撤县设区十周年,也是磐安县成立三十周年。
一、主要目标
2022年磐安县地区生产总值增长7%左右,新增规上工业企业30家。
"""

# The header repeats mid-table, as it does after a page break in PDF extractions.
TABLE = """义乌市重点任务清单
序号\t重点任务\t牵头单位\t配合单位
1\t建设国际商贸城五区市场\t市商务局\t市财政局、市建设局
序号\t重点任务\t牵头单位\t配合单位
2\t建设义乌科创新城\t市科技局\t市人力社保局
"""


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    corpus = tmp_path_factory.mktemp("answerer-corpus")
    (corpus / "义乌市2023年工作要点.txt").write_text(NOTICE, encoding="utf-8")
    (corpus / "磐安县2022年工作计划.txt").write_text(WEB_PAGE, encoding="utf-8")
    (corpus / "义乌市重点任务清单.txt").write_text(TABLE, encoding="utf-8")
    index = tmp_path_factory.mktemp("answerer-index") / "index"
    ingest_paths([corpus], index, HashEmbedder(64))
    return Pipeline.from_settings(settings_for(index))


def test_question_frame_words_are_not_key_terms() -> None:
    assert "几个" not in tokenize(strip_frame("义乌市要打造的中心是哪几个"))
    assert "一年" not in tokenize(strip_frame("义乌市在哪一年实现现代化"))
    assert "中心" in tokenize(strip_frame("义乌市要打造哪三个中心"))


def test_which_ones_is_a_list_question_not_a_count(pipeline: Pipeline) -> None:
    keyword = pipeline._state.index.keyword
    assert profile_question("义乌市要打造的中心是哪几个？", keyword).kind == "list"
    assert profile_question("义乌市要新增几个中心？", keyword).kind == "numeric"
    assert profile_question("义乌市产业园的规划面积有多大？", keyword).kind == "numeric"
    assert profile_question("领导小组多长时间报告一次？", keyword).kind != "numeric"


def test_years_ranges_and_fit() -> None:
    assert years_in("三年行动计划(2019-2021年)") == {2019, 2020, 2021}
    assert has_date("2022-03-15") and not has_date("到二〇三五年")
    assert has_date("到二〇三五年", year_will_do=True)


def test_a_year_named_only_earlier_in_the_paragraph_scopes_the_sentence(pipeline: Pipeline) -> None:
    q = profile_question("2020年规上工业增加值率要提高到多少？", pipeline._state.index.keyword)
    assert not year_fits(q, "规上企业工业增加值率提高到23%;", before="到2021年,实现规上工业增加值60亿元;")
    assert year_fits(q, "年内规上企业工业增加值率提高到23%;", before="到2021年,实现规上工业增加值60亿元;")
    assert year_fits(q, "规上企业工业增加值率提高到23%;", before="")


def test_metadata_lines_are_not_glued_into_one_sentence(pipeline: Pipeline) -> None:
    first = next(c for c in pipeline._state.index.chunks if c.doc_id == "磐安县2022年工作计划.txt")
    texts = [s.text for s in split_sentences(first)]
    assert "2022-03-15" in texts


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("义乌市2023年工作要点是哪天印发的？", ["2023年2月1日"]),
        ("磐安县2022年工作计划是哪天发布的？", ["2022-03-15"]),
        ("义乌市要在哪一年基本实现高水平现代化？", ["二〇三五年"]),
        ("2022年是磐安县成立多少周年？", ["三十周年"]),
        ("义乌市服务企业的“三到精神”是哪三到？", ["无事不到", "随叫随到", "服务周到"]),
        ("义乌市和磐安县分别要新增多少家规上工业企业？", ["50家", "30家"]),
        ("到2025年义乌市累计新增多少高技能人才？", ["1万人以上"]),
        ("新增规上工业企业，义乌市2023年和磐安县2022年各是多少家？", ["50家", "30家"]),
        ("义乌市推行企业服务一站式办理由哪些部门负责？", ["市经信局、市商务局"]),
        ("义乌市成功创建国家卫生城市属于哪一项发展目标？", ["宜居宜业的美丽城市"]),
        ("义乌市要新增多少家规上工业企业？到2025年要累计新增多少高技能人才？", ["50家", "1万人以上"]),
    ],
)
def test_answers(pipeline: Pipeline, question: str, expected: list[str]) -> None:
    result = pipeline.ask(question, 5)
    assert not result.refused, question
    for text in expected:
        assert text in result.answer, (question, result.answer)
    assert result.citations


def test_a_table_header_row_is_never_the_answer(pipeline: Pipeline) -> None:
    result = pipeline.ask("义乌市重点任务清单的重点任务由哪些牵头单位和配合单位负责？", 5)
    assert not result.refused
    assert "序号" not in result.answer and re.search(r"市\w+局", result.answer), result.answer


def test_a_target_for_another_year_is_refused(pipeline: Pipeline) -> None:
    result = pipeline.ask("到2030年义乌市累计新增多少高技能人才？", 5)
    assert result.refused, result.answer
