"""The extractive answerer on a small made-up corpus shaped like the real one: a notice with a
signature date, a web page with a publication date and metadata lines, numbered targets with
years, an enumeration across ；, a table, a regulation with articles and a run-together list.
Real chunker, BM25, FAISS (hash embedder) and the shipped answer model; the detectors and
features are checked on their own, the model through answers whose wording it never saw."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jieba
import numpy as np
import pytest
from ragqa.index.build import build_index, ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.index.keyword import KeywordIndex, strip_frame, tokenize
from ragqa.index.search import FusionConfig, Hit, Searcher
from ragqa.index.store import load_index
from ragqa.ingest.model import Chunk, Document
from ragqa.ingest.sentences import split_items, split_sentences
from ragqa.service import abstain
from ragqa.service.abstain import (
    DOCUMENT_FEATURES,
    QUESTION_FEATURES,
    Abstainer,
    GeneralRarity,
    background_idf,
    document_evidence,
    question_features,
    titled_evidence,
)
from ragqa.service.answertypes import arabize, question_types, text_types
from ragqa.service.candidates import FEATURES, candidates, featurize
from ragqa.service.extractive import (
    _OWN_MARKER,
    Segment,
    _complete_lists,
    _completing,
    _holds,
    _outline,
    _segment,
    _trim,
    _whole_list,
    _with_lead_ins,
    asked_ordinal,
)
from ragqa.service.pipeline import Pipeline
from ragqa.service.question import FOCUS_FACTOR, profile_question, year_fits, years_in
from ragqa.service.rerank import rerank
from ragqa.service.schemas import Passage

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


REGULATION = """某市物业服务管理办法
第一章 总则
第一条 为了规范物业服务活动，制定本办法。
第二章 服务收费
第五条 物业服务企业应当自合同签订之日起十五个工作日内向区住房和城乡建设局备案。
第六条 违反本办法第五条规定的，由区住房和城乡建设局责令改正，处一千元以上五千元以下的罚款。
第三章 附则
第九条 本办法自2024年3月1日起施行。
"""

LIST = """某市公共服务事项目录
一、户籍类：1．出生登记 2．死亡注销 3．迁入审批 4．迁出登记 5．户口簿补领
"""


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    corpus = tmp_path_factory.mktemp("answerer-corpus")
    (corpus / "义乌市2023年工作要点.txt").write_text(NOTICE, encoding="utf-8")
    (corpus / "磐安县2022年工作计划.txt").write_text(WEB_PAGE, encoding="utf-8")
    (corpus / "义乌市重点任务清单.txt").write_text(TABLE, encoding="utf-8")
    (corpus / "某市物业服务管理办法.txt").write_text(REGULATION, encoding="utf-8")
    (corpus / "某市公共服务事项目录.txt").write_text(LIST, encoding="utf-8")
    index = tmp_path_factory.mktemp("answerer-index") / "index"
    ingest_paths([corpus], index, HashEmbedder(64))
    return Pipeline.from_settings(settings_for(index))


def test_question_frame_words_are_not_key_terms() -> None:
    assert "几个" not in tokenize(strip_frame("义乌市要打造的中心是哪几个"))
    assert "一年" not in tokenize(strip_frame("义乌市在哪一年实现现代化"))
    assert "中心" in tokenize(strip_frame("义乌市要打造哪三个中心"))


def test_chinese_numerals_are_read_as_numbers() -> None:
    assert arabize("自收到之日起九十日内") == "自收到之日起90日内"
    assert arabize("处五万元以下的罚款") == "处50000元以下的罚款"
    assert arabize("第二十三条") == "第23条"
    assert arabize("统一部署，一是加强领导") == "统一部署，一是加强领导"


@pytest.mark.parametrize(
    ("question", "wanted"),
    [
        ("义乌市要打造的中心是哪几个？", {"list"}),
        ("多长时间内要办结？", {"duration", "number"}),
        ("最多罚多少钱？", {"bound", "money", "number"}),
        ("违规使用会被处多少罚锾？", {"money", "number"}),
        ("罚的款是多少？", {"money", "number"}),
        ("备案规定在第几条？", {"article"}),
        ("是以第几号令发布的？", {"number"}),
        ("哪个部门负责备案？", {"org"}),
        ("办法是什么时候施行的？", {"date"}),
        ("能不能委托他人办理？", {"yesno"}),
        ("公共基金具体指什么？", {"definition"}),
    ],
)
def test_question_types_come_from_the_frame(question: str, wanted: set[str]) -> None:
    assert wanted <= question_types(question), question_types(question)


def test_text_types_detect_generic_answer_kinds() -> None:
    found = text_types(arabize("由区住房和城乡建设局责令改正，处一千元以上五千元以下的罚款"))
    assert {"org", "money", "bound", "number"} <= found
    assert "duration" in text_types(arabize("十五个工作日内"))
    assert "percent" in text_types("增长5.5%")
    assert "article" in text_types(arabize("依照第二十三条"))
    assert not {"money", "duration", "percent"} & text_types("加强组织领导")


def test_run_together_items_are_split() -> None:
    assert split_items("1．出生登记 2．死亡注销 3．迁入审批") == ["1．出生登记", "2．死亡注销", "3．迁入审批"]
    assert split_items("有下列情形之一的：（一）未经许可的；（二）伪造证件的。") == ["（一）未经许可的；", "（二）伪造证件的。"]
    assert split_items("没有编号的一句话。") == []


def test_years_ranges_and_fit(pipeline: Pipeline) -> None:
    assert years_in("三年行动计划(2019-2021年)") == {2019, 2020, 2021}
    q = profile_question("2020年规上工业增加值率要提高到多少？", pipeline.index.keyword)
    assert not year_fits(q, "规上企业工业增加值率提高到23%;", before="到2021年,实现规上工业增加值60亿元;")
    assert year_fits(q, "年内规上企业工业增加值率提高到23%;", before="到2021年,实现规上工业增加值60亿元;")


def test_the_words_typed_in_a_follow_up_weigh_more_than_the_carried_over_ones(pipeline: Pipeline) -> None:
    rewritten = "义乌市2030年高技能人才总量要达到多少？"  # "高技能人才呢？" after a question about 义乌市's 2030 goals
    plain = profile_question(rewritten, pipeline.index.keyword)
    focused = profile_question(rewritten, pipeline.index.keyword, focus="高技能人才呢？")
    typed = set(tokenize(strip_frame("高技能人才呢？")))
    assert typed and typed <= set(plain.terms)
    for term, weight in plain.terms.items():
        assert focused.terms[term] == pytest.approx(weight * (FOCUS_FACTOR if term in typed else 1.0))


def test_metadata_lines_are_not_glued_into_one_sentence(pipeline: Pipeline) -> None:
    first = next(c for c in pipeline.index.chunks if c.doc_id == "磐安县2022年工作计划.txt")
    texts = [s.text for s in split_sentences(first)]
    assert "2022-03-15" in texts


def test_candidates_skip_header_rows_and_split_list_lines(pipeline: Pipeline) -> None:
    hits = pipeline.retrieval.current.search("迁入审批 出生登记 重点任务 牵头单位", 10)
    cands = candidates(hits)
    assert not any(c.sentence.text.startswith("序号") for c in cands)
    items = [c.sentence.text for c in cands if c.kind == "item"]
    assert "3．迁入审批" in items


def test_features_measure_coverage_year_and_type(pipeline: Pipeline) -> None:
    q = profile_question("到2030年义乌市累计新增多少高技能人才？", pipeline.index.keyword)
    hits = pipeline.retrieval.current.search(q.text, 5)
    cands = candidates(hits)
    rows = featurize(q, cands)
    assert rows.shape == (len(cands), len(FEATURES))
    i = next(i for i, c in enumerate(cands) if "高技能人才" in c.sentence.text)
    col = {name: n for n, name in enumerate(FEATURES)}
    assert rows[i, col["year_state"]] == -1.0  # the sentence is about 2025, the question 2030
    assert rows[i, col["c_number"]] == 1.0 and rows[i, col["q_number"]] == 1.0
    assert rows[i, col["cov"]] == rows[:, col["cov"]].max()


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("义乌市2023年地区生产总值要增长多少？", ["6%以上"]),
        ("物业服务企业签订合同后多长时间内要去备案？", ["十五个工作日"]),
        ("义乌科创新城由哪个单位牵头？", ["市科技局"]),
        ("物业服务管理办法从哪天开始施行？", ["2024年3月1日"]),
    ],
)
def test_answers(pipeline: Pipeline, question: str, expected: list[str]) -> None:
    result = pipeline.ask(question, 5)
    assert not result.refused, question
    for text in expected:
        assert text in result.answer, (question, result.answer)
    assert result.citations


def test_a_table_row_answer_brings_its_header_row_cited_on_its_own_line(pipeline: Pipeline) -> None:
    result = pipeline.ask("义乌科创新城由哪个单位牵头？", 5)
    assert not result.refused
    lines = [(c.doc, c.start_line) for c in result.citations]
    # the header nearest above the row (repeated after it once), then the row itself
    assert lines[:2] == [("义乌市重点任务清单.txt", 4), ("义乌市重点任务清单.txt", 5)], lines
    assert result.answer.index("牵头单位") < result.answer.index("市科技局")


def test_an_article_number_question_names_the_article(pipeline: Pipeline) -> None:
    result = pipeline.ask("物业服务企业备案的期限规定在第几条？", 5)
    assert not result.refused and "第五条" in result.answer, result.answer


def test_an_off_topic_abstainer_refuses_what_the_first_one_lets_through(pipeline: Pipeline) -> None:
    question = "物业服务企业签订合同后多长时间内要去备案？"
    shipped = pipeline.answerer.ranker
    n = len(QUESTION_FEATURES)
    doubting = Abstainer(np.zeros(n), np.ones(n), np.zeros(n), -5.0, 0.5)  # P(answerable) 0.007 for any question
    trusting = replace(doubting, threshold=0.0)
    got = {}
    try:
        for name, offtopic in (("doubting", doubting), ("trusting", trusting)):
            pipeline.answerer.ranker = replace(shipped, offtopic=offtopic)
            got[name] = pipeline.ask(question, 5)
    finally:
        pipeline.answerer.ranker = shipped
    assert got["doubting"].refused, got["doubting"].answer
    assert not got["trusting"].refused and "十五个工作日" in got["trusting"].answer


def test_a_question_about_nothing_in_the_documents_is_refused(pipeline: Pipeline) -> None:
    result = pipeline.ask("火星探测器的发射窗口是哪一年？", 5)
    assert result.refused, result.answer


def test_a_line_ocr_read_with_low_confidence_is_never_quoted_as_the_answer(tmp_path: Path) -> None:
    lines = ("某市河道管理办法", "第三条 建设跨河桥梁，应当在开工前三十日内报市水务局审查。", "第四条 违反本办法的，可以处五万元以下罚款。")
    question = "建设跨河桥梁应当在开工前多少日内报审？"
    cited = {}
    for flagged in ((), (2,)):
        index = tmp_path / f"index{len(flagged)}"
        build_index([Document("scan.png", "某市河道管理办法", lines, "x", (1, 1, 1), flagged)], index, HashEmbedder(64))
        pipe = Pipeline(settings_for(index), load_index(index), HashEmbedder(64))
        cited[flagged] = [(c.start_line, c.end_line) for c in pipe.ask(question).citations]
    assert (2, 2) in cited[()]  # the clear line answers
    assert not any(start <= 2 <= end for start, end in cited[(2,)])  # the same line, flagged, is not quoted


def test_a_candidate_about_another_year_is_not_appended_to_the_answer(use_pipeline: Pipeline) -> None:
    """The answer for 2023 does not run on into a nearly-as-likely sentence about 2022 targets."""
    answer = use_pipeline.ask("东阳2023年GDP目标增长多少?")
    assert "7.5%" in answer.answer and not answer.refused
    assert "2022年" not in answer.answer, answer.answer


def test_a_which_class_question_names_the_heading_the_item_sits_under(tmp_path: Path) -> None:
    lines = ("某市行政处罚案件分类", "一、道路交通类案件", "1.超速行驶案件；", "2.违章停放车辆案件；",
             "二、生态环境类案件", "3.夜间施工噪声污染案件；", "4.倾倒建筑垃圾案件；")
    build_index([Document("cases.txt", "某市行政处罚案件分类", lines, "x", (1,) * len(lines))], tmp_path, HashEmbedder(64))
    pipe = Pipeline(settings_for(tmp_path), load_index(tmp_path), HashEmbedder(64))
    result = pipe.ask("夜间施工噪声污染案件属于哪一类？")
    assert not result.refused and "生态环境类案件" in result.answer, result.answer
    assert any(c.start_line == 5 for c in result.citations)
    plain = pipe.ask("夜间施工噪声污染案件怎么处理？")
    assert "生态环境类案件" not in plain.answer  # only a which-class question gets the heading


def test_a_list_question_gets_the_items_on_the_lines_below_the_lead_in(tmp_path: Path) -> None:
    lines = ("某市住宅专项维修资金管理办法", "第八条 住宅专项维修资金的来源如下：", "一、建设单位按规定交存的首期资金。",
             "二、业主大会决议续交的资金。", "三、资金存储产生的利息。", "四、其他合法收入。", "第九条 维修资金应当专户存储，专款专用。")
    build_index([Document("fund.txt", "某市住宅专项维修资金管理办法", lines, "x", (1,) * len(lines))], tmp_path, HashEmbedder(64))
    pipe = Pipeline(settings_for(tmp_path), load_index(tmp_path), HashEmbedder(64))
    result = pipe.ask("住宅专项维修资金的来源有哪些？")
    assert not result.refused
    for item in ("首期资金", "续交的资金", "利息", "其他合法收入"):
        assert item in result.answer, result.answer
    assert "专户存储" not in result.answer  # the next article is not an item of the list
    assert any(c.start_line == 2 and c.end_line == 6 for c in result.citations), (result.answer, result.citations)


def test_an_answer_lacking_an_asked_type_gets_the_likeliest_piece_of_its_document_that_holds_it(tmp_path: Path) -> None:
    exam = ("某课程考试大纲", "一、考试方式", "本课程考试采用闭卷笔试方式。", "考试时间为150分钟。", "二、评分", "评分采用百分制，60分为及格。")
    other = ("另一课程考试大纲", "一、考试方式", "满分为100分，72分为合格，考试时间为120分钟。")
    build_index([Document("exam.txt", exam[0], exam, "x", (1,) * len(exam)), Document("other.txt", other[0], other, "y", (1,) * len(other))],
                tmp_path, HashEmbedder(64))
    index = load_index(tmp_path)
    q = profile_question("这门考试考多长时间，多少分及格？", index.keyword)
    assert {"duration", "number"} <= q.types
    pool = candidates(Searcher(index, HashEmbedder(64), FusionConfig()).search(q.text, 10))
    text = [c.sentence.text for c in pool]
    # The best piece holds the pass mark (a number) but not the duration also asked for.
    best, value, elsewhere = text.index("评分采用百分制，60分为及格。"), text.index("考试时间为150分钟。"), text.index("满分为100分，72分为合格，考试时间为120分钟。")

    def completed(value_share: float) -> list[str]:
        probs = np.full(len(pool), 0.01)
        probs[best], probs[value], probs[elsewhere] = 0.8, 0.8 * value_share, 0.5  # the other document's piece ranks second
        order = np.argsort(-probs, kind="stable")
        return [s.text for s in _completing(q, pool, probs, order, featurize(q, pool), [_segment(pool[best], text[best])], {text[best]})]

    assert completed(0.15) == ["考试时间为150分钟。"]  # the duration asked for, from the best piece's document
    assert completed(0.05) == []  # too unlikely: nothing is added


_DISPUTES = ("某市家用汽车三包规定", "第三十条 三包责任发生争议的，消费者可以通过下列途径解决：", "（一）协商和解；",
             "（二）请求消费者协会调解；", "（三）向市场监督管理部门投诉；", "（四）向人民法院提起诉讼。", "第三十一条 本规定自公布之日起施行。")


def test_one_item_of_a_list_becomes_the_whole_list_with_its_lead_in() -> None:
    doc = Document("d", "某市家用汽车三包规定", _DISPUTES, "x", (1,) * len(_DISPUTES))
    whole = _whole_list(Segment("（三）向市场监督管理部门投诉；", 1, "d", 5, 5), doc, 360)
    assert (whole.start_line, whole.end_line) == (2, 6)
    assert whole.text.startswith("第三十条") and whole.text.endswith("提起诉讼。")
    assert _whole_list(Segment("（三）向市场监督管理部门投诉；", 1, "d", 5, 5), doc, 40).end_line == 5  # too long: as it was
    prose = _whole_list(Segment("第三十一条 本规定自公布之日起施行。", 1, "d", 7, 7), doc, 360)
    assert (prose.start_line, prose.end_line) == (7, 7)  # not an item


_NORMS = ("某地检查规范", "5.14.2存在以下情形之一的，不予通过验收。", "5.14.2.1没有按期完成工作任务。", "5.14.2.2弄虚作假，虚报瞒报。",
          "5.14.2.3组织整改不力的。", "5.14.3验收结果应当公布。", "5.15.1.1罚款五万元以下的，由县级部门决定。")


def test_items_numbered_on_three_levels_make_a_list_led_in_by_yixia_qingxing() -> None:
    """"5.14.2.1" marks an item, as technical norms number them, and "以下情形" leads into a list as
    "下列" does; "5.14.3" (another level) ends the run, and the bound "五万元以下" leads into nothing."""
    doc = Document("d", "某地检查规范", _NORMS, "x", (1,) * len(_NORMS))
    whole = _whole_list(Segment("5.14.2.2弄虚作假，虚报瞒报。", 1, "d", 4, 4), doc, 360)
    assert (whole.start_line, whole.end_line) == (2, 5), whole
    assert _whole_list(Segment("5.15.1.1罚款五万元以下的，由县级部门决定。", 1, "d", 7, 7), doc, 360).start_line == 7


def test_a_list_question_answered_by_one_item_gets_all_of_them(tmp_path: Path) -> None:
    build_index([Document("cars.txt", "某市家用汽车三包规定", _DISPUTES, "x", (1,) * len(_DISPUTES))], tmp_path, HashEmbedder(64))
    pipe = Pipeline(settings_for(tmp_path), load_index(tmp_path), HashEmbedder(64))
    result = pipe.ask("除了向市场监督管理部门投诉，三包争议还有哪些途径？")
    for item in ("协商和解", "调解", "投诉", "诉讼"):
        assert item in result.answer, result.answer


def test_the_terms_next_to_the_frame_word_are_what_is_asked(pipeline: Pipeline) -> None:
    q = profile_question("义乌市政府工作报告提出，到2030年累计新增多少高技能人才？", pipeline.index.keyword)
    assert {"新增", "人才"} <= q.near_frame  # what is asked about
    assert not {"义乌市", "政府", "报告"} & q.near_frame  # where it is asked about
    hits = pipeline.retrieval.current.search(q.text, 5)
    cands = candidates(hits)
    rows = featurize(q, cands)
    col = {name: n for n, name in enumerate(FEATURES)}
    asked = next(i for i, c in enumerate(cands) if "高技能人才" in c.sentence.match)
    assert rows[asked, col["frame_cov"]] > 0.5
    assert rows[:, col["frame_cov"]].min() < rows[asked, col["frame_cov"]]
    gap = rows[:, col["frame_cov"]].max() - rows[:, col["frame_cov"]]
    assert np.allclose(rows[:, col["frame_gap_best"]], gap) and rows[:, col["frame_gap_best"]].min() == 0.0


def test_the_answer_model_moves_the_passage_that_answers_up(pipeline: Pipeline) -> None:
    question = "物业服务管理办法从哪天开始施行？"
    snap = pipeline.retrieval.current
    found = snap.search(question, 10)
    answering = next(h for h in found if "2024年3月1日" in h.chunk.text)
    last = [h for h in found if h is not answering] + [answering]  # retrieval put it last
    q = profile_question(question, pipeline.index.keyword)
    ranker = pipeline.answerer.ranker
    order = rerank([q], last, ranker.probabilities, snap.index.documents)
    assert sorted(id(h.chunk) for h in order) == sorted(id(h.chunk) for h in last)
    assert order.index(next(h for h in order if h.chunk is answering.chunk)) < len(last) - 1
    assert [h.score for h in order] == sorted((h.score for h in order), reverse=True)
    # only the first `pool` passages are ranked again; the rest keep their place and scores
    head = rerank([q], last, ranker.probabilities, snap.index.documents, pool=3)
    assert head[3:] == last[3:] and {id(h.chunk) for h in head[:3]} == {id(h.chunk) for h in last[:3]}


def test_search_and_ask_show_the_answer_aware_order(pipeline: Pipeline) -> None:
    question = "物业服务企业签订合同后多长时间内要去备案？"
    snap = pipeline.retrieval.current
    expected = pipeline.answerer.reorder(question, snap.search(question, 10), snap)
    def holds(passages: list[Passage]) -> list[bool]:  # each passage shows its hit's chunk (with lines around it)
        return [
            p.doc == h.chunk.doc_id
            and (p.match_start_line, p.match_end_line) == (h.chunk.start_line, h.chunk.end_line)
            and p.start_line <= p.match_start_line <= p.match_end_line <= p.end_line
            for p, h in zip(passages, expected[:3], strict=True)
        ]

    assert holds(pipeline.search(question, 3)) == [True] * 3
    assert holds(pipeline.ask(question, 3).passages) == [True] * 3


@pytest.mark.parametrize(
    ("question", "nth"),
    [
        ("名单里排在第二项的单位是什么？", 2),
        ("八项措施中的第三项是什么？", 3),
        ("第12项指的是哪家单位？", 12),
        ("清单里最后一项（第h项）说的是什么？", -1),
        ("清单第7项由哪几家单位配合？", None),  # asks about an item
        ("第三批举措一共有多少项？", None),  # a count
        ("第二十条规定了什么？", None),  # an article
    ],
)
def test_a_question_for_the_nth_item_of_a_list_is_recognised(question: str, nth: int | None) -> None:
    assert asked_ordinal(question) == nth


_STANDARD = ("某市伤情分级标准", "## 头部", "### 轻伤", "a)头皮撕脱伤面积20平方厘米以上。", "b)颅骨单纯性骨折。",
             "### 轻微伤", "a)头皮擦伤面积5平方厘米以上。", "b)头皮挫伤。", "c)头皮创口长度累计4厘米以上。",
             "## 面部", "### 轻微伤", "a)面部软组织创。", "b)面部皮肤擦伤。", "c)鼻骨骨折。", "d)耳廓创。")


def test_the_nth_or_last_item_of_the_list_named_in_the_question_is_the_answer(tmp_path: Path) -> None:
    build_index([Document("std.txt", "某市伤情分级标准", _STANDARD, "x", (1,) * len(_STANDARD))], tmp_path, HashEmbedder(64))
    pipe = Pipeline(settings_for(tmp_path), load_index(tmp_path), HashEmbedder(64))
    second = pipe.ask("头部轻微伤的第二项是什么？")
    assert not second.refused and second.answer.startswith("b)头皮挫伤"), second.answer
    assert second.citations[0].start_line == 8
    last = pipe.ask("面部轻微伤最后一项是什么？")
    assert not last.refused and last.answer.startswith("d)耳廓创"), last.answer


def test_an_item_that_goes_on_in_a_semicolon_brings_its_list_for_any_question(pipeline: Pipeline) -> None:
    lines = ("某工作规则", "三十六、全体会议由总理召集和主持。全体会议的主要任务是：", "（一）讨论决定重大事项；",
             "（二）部署重要工作；", "（三）通报国内外形势。", "三十七、常务会议一般每周召开一次。")
    doc = Document("d", "某工作规则", lines, "x", (1,) * len(lines))
    q = profile_question("全体会议要讨论决定什么？", pipeline.index.keyword)
    assert not {"list", "condition"} & q.types
    joined = _complete_lists([Segment("全体会议的主要任务是：（一）讨论决定重大事项；", 1, "d", 2, 3)], q, {"d": doc})
    assert (joined[0].start_line, joined[0].end_line) == (2, 5) and joined[0].text.endswith("通报国内外形势。")
    item = _complete_lists([Segment("（二）部署重要工作；", 1, "d", 4, 4)], q, {"d": doc})
    assert (item[0].start_line, item[0].end_line) == (2, 5)
    last = _complete_lists([Segment("（三）通报国内外形势。", 1, "d", 5, 5)], q, {"d": doc})
    assert (last[0].start_line, last[0].end_line) == (5, 5)  # ends its list, and the question asks for no list


def test_an_item_without_the_asked_amount_gets_the_lead_in_that_holds_it(pipeline: Pipeline) -> None:
    lines = ("某市养犬管理条例", "第二十条 养犬人不得在公共场所放任犬只排泄。", "第三十条 有下列行为之一的，由公安机关处二百元以上五百元以下罚款：",
             "（一）违反本条例第二十条规定的；", "（二）拒绝出示养犬登记证的。", "第三十一条 本条例自公布之日起施行。")
    doc = Document("d", "某市养犬管理条例", lines, "x", (1,) * len(lines))
    asked = profile_question("狗在公共场所随地排泄会被罚多少钱？", pipeline.index.keyword)
    item = Segment("（一）违反本条例第二十条规定的；", 1, "d", 4, 4)
    got = _with_lead_ins([Segment("第二十条 养犬人不得在公共场所放任犬只排泄。", 1, "d", 2, 2), item], asked, {"d": doc})
    assert [(s.start_line, s.end_line) for s in got] == [(2, 2), (3, 3), (4, 4)]
    other = profile_question("养犬人在公共场所有什么义务？", pipeline.index.keyword)  # asks for no amount
    assert _with_lead_ins([item], other, {"d": doc}) == [item]
    holds = Segment("（一）违反本条例第二十条规定的，处五十元罚款；", 1, "d", 4, 4)  # has its own amount
    assert _with_lead_ins([holds], asked, {"d": doc}) == [holds]
    how = profile_question("不出示养犬登记证会受到什么处罚？", pipeline.index.keyword)  # the penalty, in no amount frame
    assert _with_lead_ins([Segment("（二）拒绝出示养犬登记证的。", 1, "d", 5, 5)], how, {"d": doc})[0].start_line == 3


def test_an_items_own_marker_is_not_the_number_asked_for(pipeline: Pipeline) -> None:
    """"（十一）" reads as the number 11: it must not stand for the points its list's lead-in states."""
    numerals = "一二三四五六七八九十"
    acts = ("超速", "逆行", "压线", "违停", "鸣笛", "滥用远光灯", "不让行人", "不系安全带", "穿拖鞋", "抛物", "占用应急车道")
    items = tuple(f"（{n}）驾驶机动车{act}的；" for n, act in zip([*numerals, "十一"], acts, strict=True))
    lines = ("某记分办法", "第十条 机动车驾驶人有下列交通违法行为之一，一次记6分：", *items, "第十一条 本办法自公布之日起施行。")
    doc = Document("d", "某记分办法", lines, "x", (1,) * len(lines))
    asked = profile_question("开车占用应急车道一次扣多少分？", pipeline.index.keyword)
    eleventh = Segment(items[-1], 1, "d", 13, 13)
    got = _with_lead_ins([eleventh], asked, {"d": doc})
    assert [(s.start_line, s.end_line) for s in got] == [(2, 2), (13, 13)] and "6分" in got[0].text
    holds = Segment("（十一）驾驶机动车占用应急车道的，一次记3分；", 1, "d", 13, 13)  # its own points, after the marker
    assert _with_lead_ins([holds], asked, {"d": doc}) == [holds]
    for marker in ("十一、", "（二十一）", "（１１）", "１１．", "12、"):  # other markers: no number either
        assert not _holds(_OWN_MARKER.sub("", f"{marker}驾驶机动车占用应急车道的", count=1), frozenset({"number"})), marker
    assert _holds(_OWN_MARKER.sub("", "1.5万元以下罚款", count=1), frozenset({"number"}))  # a decimal is no marker


def test_a_list_question_whose_items_are_long_or_far_apart_gets_their_first_sentences(pipeline: Pipeline) -> None:
    long = "根据实际情况，充分总结近年来的工作经验，确立基本制度框架，并注意借鉴有关国家的经验。" * 3
    lines = ("某法草案的说明", "据此，起草工作把握了以下几点：", f"第一，坚持从国情出发。{long}", f"第二，坚持问题导向。{long}",
             f"第三，坚持安全与发展并重。{long}", "三、关于草案的主要内容", "（一）产业人才行动计划。", "围绕产业发展培养人才。",
             "（二）科技人才行动计划。", "围绕科技创新培养人才。", "二、保障措施")
    doc = Document("d", "某法草案的说明", lines, "x", (1,) * len(lines))
    asked = profile_question("起草时把握了哪几点？", pipeline.index.keyword)
    assert "list" in asked.types
    got = _complete_lists([Segment("据此，起草工作把握了以下几点：", 1, "d", 2, 2)], asked, {"d": doc})
    assert got[0].text == "据此，起草工作把握了以下几点：第一，坚持从国情出发。第二，坚持问题导向。第三，坚持安全与发展并重。"
    assert (got[0].start_line, got[0].end_line) == (2, 5)
    contents = profile_question("草案的主要内容有哪几项？", pipeline.index.keyword)
    apart = _complete_lists([Segment("（一）产业人才行动计划。", 1, "d", 7, 7)], contents, {"d": doc})
    assert apart[0].text == "（一）产业人才行动计划。（二）科技人才行动计划。" and (apart[0].start_line, apart[0].end_line) == (7, 9)  # a heading is no lead-in
    below = _complete_lists([Segment("三、关于草案的主要内容", 1, "d", 6, 6)], contents, {"d": doc})  # a title over its own items
    assert below[0].text == "三、关于草案的主要内容（一）产业人才行动计划。（二）科技人才行动计划。" and (below[0].start_line, below[0].end_line) == (6, 9)
    unrelated = _complete_lists([Segment("（一）产业人才行动计划。", 1, "d", 7, 7)], asked, {"d": doc})  # its heading holds none of the terms
    assert (unrelated[0].start_line, unrelated[0].end_line) == (7, 7)
    plain = profile_question("起草时从哪里出发？", pipeline.index.keyword)  # no list asked: the lead-in and what fits
    assert _complete_lists([Segment("据此，起草工作把握了以下几点：", 1, "d", 2, 2)], plain, {"d": doc})[0].end_line < 5


def test_the_abstainer_sees_a_name_a_title_holds_that_the_answers_document_never_mentions(pipeline: Pipeline) -> None:
    a = Document("a.txt", "甲州2025年经济运行情况分析", ("甲州2025年经济运行情况分析", "全州年末常住人口62.1万人。"), "sa")
    b = Document("b.txt", "乙州2024年统计公报", ("乙州2024年统计公报", "全州年末常住人口350.7万人，比上年增长0.6%。"), "sb")
    docs = {"a.txt": a, "b.txt": b}
    titled_at = DOCUMENT_FEATURES.index("doc_missing_titled_max")
    about_a = profile_question("甲州年末常住人口有多少？", pipeline.index.keyword)  # names the other document's place
    titled = document_evidence(about_a, "b.txt", docs)[titled_at]
    assert titled > 0
    assert list(document_evidence(about_a, "a.txt", docs)) == [0.0, 0.0]  # its own document, which holds every word
    year = profile_question("乙州2025年末常住人口有多少？", pipeline.index.keyword)  # a year only another title holds
    assert document_evidence(year, "b.txt", docs)[titled_at] > 0
    assert document_evidence(about_a, "b.txt", {"b.txt": b})[titled_at] == 0.0  # a title the reader may not see counts for nothing
    own_words = profile_question("咱们这里年末常住人口有多少？", pipeline.index.keyword)  # words no title holds
    assert document_evidence(own_words, "b.txt", docs)[titled_at] == 0.0
    row = question_features(np.array([0.9]), np.zeros((1, len(FEATURES))), np.array([titled, 0.25]))
    assert len(row) == len(QUESTION_FEATURES) and list(row[-len(DOCUMENT_FEATURES) :]) == [titled, 0.25]


def test_the_abstainer_weighs_what_the_answers_document_lacks_by_general_rarity_in_any_collection(pipeline: Pipeline) -> None:
    """doc_missing_general: the share of the question's words, each weighed by its rarity in general
    Chinese, that the best candidate's document never mentions. It reads the same in a collection
    of one document as in the sample index, where the same words weigh otherwise by IDF."""
    doc = Document("c.txt", "资产评估管理办法", ("资产评估管理办法", "评估机构应当依法独立开展业务，注册资本不得少于一百万元。"), "sc")
    docs = {"c.txt": doc}
    general = DOCUMENT_FEATURES.index("doc_missing_general")
    small = KeywordIndex.build(doc.lines)
    held = profile_question("评估机构的注册资本不得少于多少？", small)
    assert document_evidence(held, "c.txt", docs)[general] == 0.0
    rare = [profile_question("评估机构外资有多少家？", k) for k in (small, pipeline.index.keyword)]
    assert rare[0].terms != rare[1].terms  # the two collections weigh the words otherwise …
    lacking = [document_evidence(q, "c.txt", docs)[general] for q in rare]
    assert lacking[0] == lacking[1] > 0  # … and the feature alike
    common = document_evidence(profile_question("评估机构咱们有多少家？", small), "c.txt", docs)[general]
    assert 0 < common < lacking[0]  # the asker's own word (咱们) is commoner than the fact the document lacks (外资)


def test_the_general_rarity_table_is_jiebas_and_is_read_back_from_its_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Path(jieba.__file__).parent / "analyse" / "idf.txt"
    lines = source.read_text(encoding="utf-8").splitlines()
    parsed = GeneralRarity.parse(source)
    assert len(parsed.keys) == len(lines)
    for line in lines[:: len(lines) // 500]:  # every word looks up its own value, none another's
        word, _, value = line.rpartition(" ")
        assert parsed[word] == float(value)
    assert parsed["不是一个词的字串"] == parsed.median
    monkeypatch.setattr(abstain, "_rarity", None)
    first = background_idf(tmp_path)  # parsed, then saved
    (saved,) = tmp_path.glob("general-idf-*.npz")
    intact = saved.read_bytes()

    def unparsable(path: Path) -> GeneralRarity:
        raise AssertionError("parsed although the cache holds the table")

    with monkeypatch.context() as m:
        m.setattr(GeneralRarity, "parse", unparsable)
        m.setattr(abstain, "_rarity", None)
        again = background_idf(tmp_path)  # read from the cache, not parsed
    assert again is not first and np.array_equal(again.keys, parsed.keys) and np.array_equal(again.values, parsed.values)
    for damaged in (b"not an npz", intact[: len(intact) // 2], b""):  # junk, cut short, empty
        saved.write_bytes(damaged)
        monkeypatch.setattr(abstain, "_rarity", None)
        assert np.array_equal(background_idf(tmp_path).keys, parsed.keys)  # parsed again …
        with np.load(saved) as rewritten:  # … and written again
            assert np.array_equal(rewritten["keys"], parsed.keys) and np.array_equal(rewritten["values"], parsed.values)
    assert [p.name for p in tmp_path.iterdir()] == [saved.name]  # no temporary file left


_SET_ORDER_PROBE = """
import math
from types import SimpleNamespace
from ragqa.service.candidates import _local_coverage
from ragqa.service.question import QuestionProfile
terms = {f"词{i}": 1 / (i + 3) + math.sqrt(i) for i in range(14)}
held = SimpleNamespace(sentence=SimpleNamespace(match="".join(terms)))
other = SimpleNamespace(sentence=SimpleNamespace(match="词1词2"))
print(repr(_local_coverage(QuestionProfile("问", terms, frozenset(), ()), [held, other])))
"""


def test_features_do_not_depend_on_the_order_a_set_of_terms_is_read_in() -> None:
    """A set of strings iterates in an order Python's per-process hash seed decides; a float sum
    over it then differs in its last bits from one start to the next, and candidates tied on it
    swap places (4 of 2,220 train answers changed between two starts before math.fsum)."""
    outputs = set()
    for seed in range(8):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        done = subprocess.run([sys.executable, "-c", _SET_ORDER_PROBE], env=env, capture_output=True, text=True, check=True)
        outputs.add(done.stdout.strip())
    assert len(outputs) == 1, outputs


_COUNTED_DOC = ("某市工作会议纪要", "会议提出三点要求。一要抓好落实。这是第一位的。二要防范风险。三要提升本领。二、主要任务。",
                "组　长：张某 市长", "副组长：李某 副市长", "王某 秘书长", "赵某 局长", "成　员：钱某 处长",
                "本市设有四条绿道。具体包括：东湖绿道、西山绿道、南河绿道、北岭绿道。", "补助分为甲类、乙类、丙类三类。",
                "（一）甲类：每人每月五百元；", "（二）乙类：每人每月三百元。")


def test_a_sentence_that_counts_its_items_or_a_roster_label_brings_the_items_for_a_list_question(pipeline: Pipeline) -> None:
    doc = Document("d", _COUNTED_DOC[0], _COUNTED_DOC, "x", (1,) * len(_COUNTED_DOC))
    docs = {"d": doc}
    assert "list" in question_types("会议提了哪三点要求？") and "list" not in question_types("哪一年开始施行？")
    ask = profile_question("会议提了哪三点要求？", pipeline.index.keyword)
    points = _complete_lists([Segment("会议提出三点要求。", 1, "d", 2, 2)], ask, docs)[0]
    assert points.text == "会议提出三点要求。一要抓好落实。二要防范风险。三要提升本领。" and (points.start_line, points.end_line) == (2, 2)
    roster = _complete_lists([Segment("副组长：李某 副市长", 1, "d", 4, 4)], profile_question("副组长有哪几位？", pipeline.index.keyword), docs)[0]
    assert roster.text.endswith("赵某 局长") and "钱某" not in roster.text and (roster.start_line, roster.end_line) == (4, 6)
    paths = _complete_lists([Segment("本市设有四条绿道。", 1, "d", 8, 8)], profile_question("本市有哪四条绿道？", pipeline.index.keyword), docs)[0]
    assert paths.text.endswith("北岭绿道。") and paths.text.startswith("本市设有四条绿道。")
    # a sentence that names what it counts is not a lead-in of the items below it
    named = Segment("补助分为甲类、乙类、丙类三类。", 1, "d", 9, 9)
    assert _complete_lists([named], profile_question("补助分为哪几类？", pipeline.index.keyword), docs)[0] == named
    # a question that asks for no list gets the sentence as it was
    plain = profile_question("会议由谁主持？", pipeline.index.keyword)
    assert _complete_lists([Segment("会议提出三点要求。", 1, "d", 2, 2)], plain, docs)[0].text == "会议提出三点要求。"


_LEAD_IN_DOC = ("某县补助办法", "申请补助应当提交相关证明文件。前款所称证明文件如下：一、身份证明。二、户籍证明。三、收入证明。前三项材料不全的，应当补正。",
                "申请人应当提交下列材料：", "（一）本人身份证；家庭成员的户口簿。", "（二）收入证明；", "（三）居住证明。",
                "一、核销时应附下列凭证：（一）机票。（二）登机证。二、租车每天最高三千元。",
                "备注：1.本表由申请人填写。2.本表一式两份。")


def test_a_list_that_starts_inside_its_lead_in_sentence_is_quoted_to_its_last_item(pipeline: Pipeline) -> None:
    doc = Document("d", _LEAD_IN_DOC[0], _LEAD_IN_DOC, "x", (1,) * len(_LEAD_IN_DOC))
    ask = profile_question("证明文件有哪些？", pipeline.index.keyword)
    got = _complete_lists([Segment("前款所称证明文件如下：一、身份证明。", 1, "d", 2, 2)], ask, {"d": doc})[0]
    assert got.text == "前款所称证明文件如下：一、身份证明。二、户籍证明。三、收入证明。"  # not the sentence after the items
    assert (got.start_line, got.end_line) == (2, 2)
    # the items of the list's own style: the next point of the outer list ("二、…") ends it
    ticket = _complete_lists([Segment("一、核销时应附下列凭证：（一）机票。", 1, "d", 7, 7)], ask, {"d": doc})[0]
    assert ticket.text == "一、核销时应附下列凭证：（一）机票。（二）登机证。"
    # a bare colon is no lead-in ("备注：1.…")
    note = Segment("备注：1.本表由申请人填写。", 1, "d", 8, 8)
    assert _complete_lists([note], profile_question("备注有哪些？", pipeline.index.keyword), {"d": doc})[0] == note
    # a sentence that leads in without starting the list, or a question that asks for no list, is left alone
    lead = Segment("申请补助应当提交相关证明文件。", 1, "d", 2, 2)
    assert _complete_lists([lead], ask, {"d": doc})[0] == lead
    plain = Segment("前款所称证明文件如下：一、身份证明。", 1, "d", 2, 2)
    assert _complete_lists([plain], profile_question("证明文件由谁出具？", pipeline.index.keyword), {"d": doc})[0] == plain


def test_an_outline_keeps_each_items_first_sentence_whole_when_it_fits(pipeline: Pipeline) -> None:
    doc = Document("d", _LEAD_IN_DOC[0], _LEAD_IN_DOC, "x", (1,) * len(_LEAD_IN_DOC))
    ask = profile_question("申请人要提交哪些材料？", pipeline.index.keyword)
    lead = Segment("申请人应当提交下列材料：", 1, "d", 3, 3)
    whole = _outline(lead, doc, 200, ask)
    assert "家庭成员的户口簿。" in whole.text and whole.text.endswith("（三）居住证明。") and (whole.start_line, whole.end_line) == (3, 6)
    short = _outline(lead, doc, 40, ask)  # too long with whole sentences: each item's first clause
    assert short.text == "申请人应当提交下列材料：（一）本人身份证；（二）收入证明；（三）居住证明。"


def test_an_over_long_table_row_keeps_its_short_cells_and_cuts_the_cell_that_holds_least_of_the_question(pipeline: Pipeline) -> None:
    q = profile_question("建立培训资金这项任务由哪个单位牵头？", pipeline.index.keyword)
    task = "建立培训资金，统筹安排各类培训经费，" + "加强培训机构管理，提高培训质量，" * 6
    basis = "依据有关规定，" + "按照分级负责的原则组织实施，" * 6
    row = f"3 | {task} | 市人社局 | {basis} | 2016年"
    got = _trim(row, q, 160)
    cells = got.split(" | ")
    assert len(got) <= 160 and cells[0] == "3" and cells[2] == "市人社局" and cells[4] == "2016年"
    assert cells[1] == task and len(cells[3]) < len(basis)  # the basis holds none of the question: cut first
    longer = _trim(f"3 | {task * 2} | 市人社局 | {basis} | 2016年", q, 160).split(" | ")
    assert longer[1].startswith("建立培训资金") and len(longer[1]) < len(task * 2) and longer[2] == "市人社局"
    plain = "建立培训资金，" + "加强培训机构管理，" * 30
    assert _trim(plain, q, 40).startswith("建立培训资金")  # no cells: the run of clauses with most key terms



def test_each_candidate_sees_whether_its_document_misses_a_name_a_title_holds(pipeline: Pipeline) -> None:
    a = Document("a.txt", "甲州2025年统计公报", ("甲州2025年统计公报", "全州城镇新增就业7398人。"), "sa")
    b = Document("b.txt", "全国2025年统计公报", ("全国2025年统计公报", "全国城镇新增就业1256万人。"), "sb")
    docs = {"a.txt": a, "b.txt": b}
    q = profile_question("甲州城镇新增就业多少人？", pipeline.index.keyword)
    evidence = titled_evidence(q, ["a.txt", "b.txt", "b.txt"], docs)
    assert evidence["a.txt"] == 0.0 and evidence["b.txt"] > 0  # the national bulletin never names 甲州
    chunks = [Chunk(doc_id=d.doc_id, start_line=2, end_line=2, clause_path=(), text=d.lines[1], match_text=d.lines[1], context=d.title) for d in (b, a)]
    hits = [Hit(c, 1.0, 1.0, 1.0, 1, 1) for c in chunks]
    pool = candidates(hits)
    col = FEATURES.index("doc_missing_titled")
    rows = featurize(q, pool, evidence)
    assert [float(r[col]) for r in rows] == [pytest.approx(evidence[c.hit.chunk.doc_id]) for c in pool]
    assert not featurize(q, pool)[:, col].any()  # without documents the column is 0, as the model never saw otherwise
