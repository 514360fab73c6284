"""Cantonese questions read as Standard Written Chinese (ingest/normalize.py, CANTONESE)."""

import json
from pathlib import Path

import pytest
from ragqa.ingest.normalize import fold, normalize_query, standard_written
from ragqa.service.answertypes import question_types
from ragqa.service.pipeline import Pipeline

GOLD = Path(__file__).resolve().parents[1] / "eval" / "gold"


@pytest.mark.parametrize(
    ("cantonese", "written"),
    [
        ("遲交稅要罰幾多錢？", "迟交税要罚多少钱?"),
        ("申請要等幾耐先有結果？", "申请要等多久先有结果?"),
        ("邊個負責審批？", "谁负责审批?"),
        ("邊個部門負責？", "哪个部门负责?"),
        ("係咪一定要親身去？", "是否一定要亲身去?"),
        ("使唔使交行政費？", "是否需要交行政费?"),
        ("租客可唔可以提早退租？", "租客是否可以提早退租?"),
        ("佢哋喺邊度辦理登記嘅？", "他们在哪里办理登记的?"),
        ("冇牌經營會點樣處罰㗎？", "没有牌经营会怎样处罚?"),
    ],
)
def test_cantonese_frame_words_and_particles_read_as_written_chinese(cantonese: str, written: str) -> None:
    assert standard_written(fold(cantonese)) == written


def test_cantonese_questions_ask_for_the_answer_types_their_written_forms_ask_for() -> None:
    assert question_types(normalize_query("遲交要罰幾多錢？")) == question_types(normalize_query("迟交要罚多少钱？"))
    assert "duration" in question_types(normalize_query("審批要幾耐？"))


@pytest.mark.parametrize("text", ["关系", "体系多", "联系咪表", "重点做好", "周边个体户", "旁边一间", "仲裁期限", "几点开始", "都系统", "乱按喇叭罚多少"])
def test_written_chinese_that_only_looks_cantonese_is_left_alone(text: str) -> None:
    assert standard_written(text) == text


def test_questions_without_cantonese_words_are_unchanged() -> None:
    """Every sample gold question (Standard Written Chinese, either script) reads as it did."""
    questions = [json.loads(line)["question"] for name in ("dev", "holdout", "blind") for line in (GOLD / f"{name}.jsonl").open(encoding="utf-8")]
    changed = [q for q in questions if standard_written(fold(q)) != fold(q)]
    assert len(questions) > 200
    assert changed == []


def test_a_cantonese_question_gets_the_answer_its_written_form_gets(use_pipeline: Pipeline) -> None:
    written = use_pipeline.ask("东阳2023年地区生产总值目标增长多少？")
    cantonese = use_pipeline.ask("東陽2023年地區生產總值目標增長幾多嘅？")
    assert not written.refused
    assert cantonese.answer == written.answer
    assert [c.model_dump() for c in cantonese.citations] == [c.model_dump() for c in written.citations]
