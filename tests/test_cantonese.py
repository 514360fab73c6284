"""Cantonese questions read as Standard Written Chinese (ingest/normalize.py, CANTONESE)."""

import json
from pathlib import Path

import pytest
from ragqa.ingest.normalize import fold, match_line, normalize_query, standard_written
from ragqa.service.answertypes import question_types
from ragqa.service.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "gold"


@pytest.mark.parametrize(
    ("cantonese", "written"),
    [
        ("遲交稅要罰幾多錢？", "迟交税要罚多少钱?"),
        ("申請要等幾耐？", "申请要等多久?"),
        ("邊個負責審批？", "谁负责审批?"),
        ("邊個部門負責？", "哪个部门负责?"),
        ("係咪一定要親身去？", "是否一定要亲身去?"),
        ("使唔使交行政費？", "是否需要交行政费?"),
        ("租客可唔可以提早退租？", "租客是否可以提早退租?"),
        ("佢哋喺邊度辦理登記嘅？", "他们在哪里办理登记的?"),
        ("冇牌經營會點樣處罰㗎？", "没有牌经营会怎样处罚?"),
        ("罰款係幾多？", "罚款是多少?"),  # 係 read before 幾多 is
        ("而家仲可唔可以改？", "现在还是否可以改?"),
        ("一定要簽咩？", "一定要签吗?"),  # a final 咩 asks yes or no
    ],
)
def test_cantonese_frame_words_and_particles_read_as_written_chinese(cantonese: str, written: str) -> None:
    assert standard_written(fold(cantonese)) == written


def test_cantonese_questions_ask_for_the_answer_types_their_written_forms_ask_for() -> None:
    assert question_types(normalize_query("遲交要罰幾多錢？")) == question_types(normalize_query("迟交要罚多少钱？"))
    assert "duration" in question_types(normalize_query("審批要幾耐？"))


@pytest.mark.parametrize(
    "text",
    ["社会关系", "太阳系几大行星", "重点解决", "采样点样品", "指定系统", "双边条约", "海边度假", "边处理边整改",
     "从而家庭", "俾于本协定", "仲裁期限", "汽车喇叭噪声", "每天几点上班", "城市周边道路"],
)
def test_written_chinese_that_only_looks_cantonese_is_left_alone(text: str) -> None:
    assert standard_written(text) == text


def test_questions_without_cantonese_words_are_unchanged() -> None:
    """Every sample gold question (Standard Written Chinese, either script) reads as it did."""
    questions = [json.loads(line)["question"] for name in ("dev", "holdout", "blind") for line in (GOLD / f"{name}.jsonl").open(encoding="utf-8")]
    changed = [q for q in questions if standard_written(fold(q)) != fold(q)]
    assert len(questions) > 200
    assert changed == []


def test_no_document_line_reads_as_cantonese() -> None:
    """The sample and evaluation documents are Standard Written Chinese (Hong Kong and Taiwan ones
    included): a pattern that changes one of their lines would misfire on a Mandarin question too.
    甚麼, the Hong Kong spelling of 什么, is the one rewrite they may hold."""
    files = [*(ROOT / "samples" / "corpus").iterdir(), *(ROOT / "eval" / "corpora").glob("*/*.txt")]
    lines = [match_line(line) for f in files if f.suffix in (".txt", ".md") for line in f.read_text(encoding="utf-8").splitlines()]
    changed = [line for line in lines if standard_written(line) != line.replace("甚么", "什么")]
    assert len(lines) > 20_000
    assert changed == []


def test_a_cantonese_question_gets_the_answer_its_written_form_gets(use_pipeline: Pipeline) -> None:
    written = use_pipeline.ask("东阳2023年地区生产总值目标增长多少？")
    cantonese = use_pipeline.ask("東陽2023年地區生產總值目標增長幾多嘅？")
    assert not written.refused
    assert cantonese.answer == written.answer
    assert [c.model_dump() for c in cantonese.citations] == [c.model_dump() for c in written.citations]
