"""Metric definitions checked on inline gold data, with expected values worked out by hand."""

from __future__ import annotations

import pytest
from ragqa.eval.contract import AskResult, Citation, Passage
from ragqa.eval.goldset import GoldItem, Ref
from ragqa.eval.metrics import (
    ANSWERED_UNANSWERABLE,
    BAD_CITATION,
    CALL_FAILED,
    FALSE_REFUSAL,
    RETRIEVAL_MISS,
    WRONG_SENTENCE,
    Outcome,
    Verdict,
    answer_contains,
    judge,
    quote_is_valid,
)
from ragqa.eval.scores import aggregate, by_type, percentile
from ragqa.eval.textnorm import normalize

DOCS = {
    "a.txt": [
        "一、总体目标",
        "地区生产总值增长7.5%以上。",
        "產(chǎn)業(yè)發展",
        "粮食种植面积10万亩以上",
    ],
    "b.txt": ["序号 任务", "粮食播种面积稳定在25.6万亩"],
}


def lines_of(doc: str) -> list[str] | None:
    return DOCS.get(doc)


def item(
    id: str,
    type: str,
    answers: tuple[str, ...] = (),
    refs: tuple[Ref, ...] = (),
    must_all: bool = False,
) -> GoldItem:
    return GoldItem(id, f"question {id}", answers, must_all, refs, type)


def p(doc: str, start: int, end: int, score: float = 0.5) -> Passage:
    return Passage(doc, start, end, "一、总体目标", score, "...")


def cite(id: int, doc: str, start: int, end: int, quote: str | None = None) -> Citation:
    source = DOCS.get(doc, [])
    text = "\n".join(source[start - 1 : end]) if quote is None else quote
    return Citation(id, doc, start, end, "clause", text)


def answer(text: str, *citations: Citation, refused: bool = False) -> AskResult:
    return AskResult(text, refused, tuple(citations))


def filler(n: int) -> list[Passage]:
    return [p("b.txt", 1, 1, 0.1)] * n


A2 = Ref("a.txt", 2, 2)
A3 = Ref("a.txt", 3, 3)
A4 = Ref("a.txt", 4, 4)
B1 = Ref("b.txt", 1, 1)
B2 = Ref("b.txt", 2, 2)

ITEMS = [
    item("g1", "numeric", ("7.5%以上", "7.5%"), (A2,)),
    item("g2", "list", ("产业", "发展"), (A3,), must_all=True),
    item("g3", "crossdoc", ("10万亩", "25.6万亩"), (A4, B2), must_all=True),
    item("g4", "fact", ("一、总体目标",), (Ref("a.txt", 1, 1),)),
    item("g5", "date", ("粮食",), (B2,)),
    item("u1", "unanswerable"),
    item("u2", "unanswerable"),
]

OUTCOMES = [
    # tie on score: the hit keeps its returned rank 2
    Outcome(
        (p("b.txt", 1, 1, 0.5), p("a.txt", 1, 2, 0.5)),
        answer("增长7.5%以上[1]。", cite(1, "a.txt", 2, 2)),
        10.0,
    ),
    # Traditional + pinyin on the answer side; the quote is not the source line
    Outcome(
        (p("a.txt", 3, 4),),
        answer("產(chǎn)業(yè)發展[1]", cite(1, "a.txt", 3, 3, "产业发展")),
        20.0,
    ),
    # must_all with only one of two strings; first hit at rank 7
    Outcome((*filler(6), p("b.txt", 2, 2)), answer("25.6万亩[1]", cite(1, "b.txt", 2, 2)), 30.0),
    # refused, no passages at all
    Outcome((), answer("文件中没有相关内容。", refused=True), 40.0),
    # hit at rank 11 is past the MRR depth of 10; answer too long; citation misses the ref
    Outcome(
        (*filler(10), p("b.txt", 2, 2)), answer("粮食" + "很" * 400, cite(1, "a.txt", 1, 1)), 50.0
    ),
    Outcome((), answer("无法回答。", refused=True), 60.0),
    Outcome((p("a.txt", 2, 2),), answer("7.5%[1]", cite(1, "zzz.txt", 1, 1, "x")), 70.0),
]


@pytest.fixture(scope="module")
def verdicts() -> list[Verdict]:
    return [judge(i, o, lines_of) for i, o in zip(ITEMS, OUTCOMES, strict=True)]


def test_per_item_verdicts(verdicts: list[Verdict]) -> None:
    by_id = {v.item_id: v for v in verdicts}
    assert [by_id[k].hit_rank for k in ("g1", "g2", "g3", "g4", "g5")] == [2, 1, 7, None, 11]
    assert by_id["u1"].hit_rank is None and by_id["u1"].hit_at(5) is None
    assert [by_id[k].answer_correct for k in ("g1", "g2", "g3", "g4", "g5")] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert by_id["u1"].answer_correct is None
    assert [by_id[k].citation_correct for k in ("g1", "g2", "g3", "g4", "g5")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert [v.citations_valid for v in verdicts] == [True, False, True, None, True, None, False]
    assert by_id["g2"].invalid_citations == (1,)


def test_failure_kinds(verdicts: list[Verdict]) -> None:
    kinds = {v.item_id: [f.kind for f in v.failures] for v in verdicts}
    assert kinds == {
        "g1": [],
        "g2": [BAD_CITATION],
        "g3": [RETRIEVAL_MISS],
        "g4": [FALSE_REFUSAL, RETRIEVAL_MISS],
        "g5": [RETRIEVAL_MISS, BAD_CITATION],
        "u1": [],
        "u2": [ANSWERED_UNANSWERABLE, BAD_CITATION],
    }


def test_overall_metrics(verdicts: list[Verdict]) -> None:
    m = aggregate(verdicts)
    assert (m.n, m.n_answerable, m.n_unanswerable) == (7, 5, 2)
    assert m.hit_at_1 == pytest.approx(1 / 5)  # g2
    assert m.hit_at_5 == pytest.approx(2 / 5)  # g1, g2
    assert m.hit_at_10 == pytest.approx(3 / 5)  # g1, g2, g3
    assert m.mrr == pytest.approx((1 / 2 + 1 + 1 / 7 + 0 + 0) / 5)
    assert m.answer_accuracy == pytest.approx(2 / 5)
    assert m.citation_accuracy == pytest.approx(3 / 5)
    assert m.citation_validity == pytest.approx(3 / 5)  # g1 g3 g5 of g1 g2 g3 g5 u2
    assert m.refusal_precision == pytest.approx(1 / 2)  # refused: g4, u1
    assert m.refusal_recall == pytest.approx(1 / 2)  # u1 of u1, u2
    assert m.false_refusal_rate == pytest.approx(1 / 5)
    assert m.latency_p50_ms == pytest.approx(40.0)
    assert m.latency_p95_ms == pytest.approx(60 + 0.7 * 10)  # position 0.95 * 6 = 5.7


def test_per_type_metrics(verdicts: list[Verdict]) -> None:
    types = by_type(verdicts)
    assert list(types) == ["numeric", "date", "list", "fact", "crossdoc", "unanswerable"]
    assert types["numeric"].hit_at_1 == 0.0 and types["numeric"].mrr == 0.5
    assert types["crossdoc"].hit_at_10 == 1.0 and types["crossdoc"].answer_accuracy == 0.0
    assert types["list"].citation_validity == 0.0
    u = types["unanswerable"]
    assert u.hit_at_5 is None and u.mrr is None and u.answer_accuracy is None
    assert (u.refusal_precision, u.refusal_recall) == (1.0, 0.5)
    assert types["fact"].false_refusal_rate == 1.0 and types["fact"].refusal_precision == 0.0


def test_empty_and_unanswerable_only_sets_are_na() -> None:
    m = aggregate([])
    assert m.n == 0 and m.hit_at_5 is None and m.latency_p50_ms is None
    only_u = aggregate([judge(item("u", "unanswerable"), Outcome((), answer("x"), 5.0), lines_of)])
    assert only_u.answer_accuracy is None and only_u.refusal_precision is None
    assert only_u.refusal_recall == 0.0


def test_failed_calls_count_as_wrong_and_have_no_latency() -> None:
    g = item("g", "numeric", ("7.5%",), (A2,))
    v = judge(g, Outcome((), None, None, "search: boom", "ask: boom"), lines_of)
    assert (v.hit_rank, v.answer_correct, v.refused, v.latency_ms) == (None, False, False, None)
    assert [f.kind for f in v.failures] == [CALL_FAILED, CALL_FAILED, RETRIEVAL_MISS]
    m = aggregate([v])
    assert m.answer_accuracy == 0.0 and m.latency_p50_ms is None


def test_wrong_sentence_when_retrieved() -> None:
    g = item("g", "numeric", ("7.5%",), (A2,))
    hit = (p("a.txt", 2, 2),)
    plain = judge(g, Outcome(hit, answer("8%[1]", cite(1, "a.txt", 2, 2)), 1.0), lines_of)
    assert [(f.kind, f.detail) for f in plain.failures] == [
        (WRONG_SENTENCE, "a ref was retrieved but the answer lacks the gold string(s)")
    ]
    long = judge(
        g, Outcome(hit, answer("7.5%" + "。" * 397, cite(1, "a.txt", 2, 2)), 1.0), lines_of
    )
    assert long.answer_correct is False
    assert long.failures[0].detail == "answer has 401 characters (over 400)"
    exactly_400 = answer("7.5%" + "。" * 396)
    assert judge(g, Outcome(hit, exactly_400, 1.0), lines_of).answer_correct is True


@pytest.mark.parametrize(
    ("answer_text", "golds", "must_all", "expected"),
    [
        ("增长７．５％以上", ["7.5%以上"], False, True),
        ("增长 7.5 %以上", ["7.5%以上"], False, True),
        ("增长7.5%[2]以上", ["7.5%以上"], False, True),
        ("高端裝(zhuāng)備(bèi)、智能家居", ["高端裝備", "智能家居"], True, True),
        ("高端装备", ["高端裝備", "智能家居"], True, False),
        ("高端装备", ["高端裝備", "智能家居"], False, True),
        ("1+5+x", ["1+5+X"], False, False),
        ("任何回答", [], False, False),
    ],
)
def test_answer_contains(
    answer_text: str, golds: list[str], must_all: bool, expected: bool
) -> None:
    assert answer_contains(answer_text, golds, must_all) is expected


def test_normalize() -> None:
    assert normalize("產(chǎn)業(yè) 發(fā)展") == "产业发展"
    assert normalize("点(ccp)") == "点(ccp)"
    assert normalize("（５８％）\u3000以上\u200b") == "(58%)以上"
    assert normalize("deng(dèng)") == "deng(dèng)"


def test_quote_validity_bounds() -> None:
    lines = DOCS["a.txt"]
    assert quote_is_valid(Citation(1, "a.txt", 2, 3, quote="\n".join(lines[1:3])), lines)
    assert not quote_is_valid(Citation(1, "a.txt", 2, 3, quote=lines[1] + lines[2]), lines)
    assert not quote_is_valid(Citation(1, "a.txt", 4, 5, quote=lines[3]), lines)
    assert not quote_is_valid(Citation(1, "a.txt", 0, 1, quote=lines[0]), lines)
    assert not quote_is_valid(Citation(1, "a.txt", 1, 1, quote=lines[0]), None)


def test_percentile_interpolates() -> None:
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 95) == pytest.approx(38.5)
    assert percentile([7.0], 95) == 7.0
