"""Cross-validation groups of `ragqa train --groups writers`: documents joined with the question
writers' sets that asked about them, so a fold holds out both."""

from __future__ import annotations

from types import SimpleNamespace

from ragqa.eval.goldset import GoldItem, Ref
from ragqa.eval.train_answerer import Pooled, _asked_elsewhere, _chosen, _fold_of, _group, writer_groups


def _item(item_id: str, doc: str | None, note: str = "") -> GoldItem:
    refs = (Ref(doc, 1, 1),) if doc else ()
    return GoldItem(item_id, "问题", ("答案",) if doc else (), False, refs, "fact" if doc else "unanswerable", note)


def test_a_writer_who_asked_about_two_documents_joins_them_and_another_writer_of_one_joins_too() -> None:
    items = [
        _item("c40a-001", "law/a.txt"),
        _item("c40a-002", "law/b.txt"),
        _item("c41b-001", "law/b.txt"),
        _item("c41b-002", None, "[stats/c.txt] 最近的一行不回答"),
        _item("c42a-001", "report/d.txt"),
    ]
    groups = writer_groups(items)
    assert groups[0] == groups[1] == groups[2] == groups[3]  # a-b by c40a, b by c41b, c by c41b's note
    assert groups[4] != groups[0]
    assert len({_fold_of(g) for g in groups[:4]}) == 1  # one fold holds the whole component


def test_groups_do_not_depend_on_the_order_of_the_items() -> None:
    items = [_item("x1-001", "a.txt"), _item("x2-001", "b.txt"), _item("x2-002", "a.txt"), _item("solo", "c.txt")]
    forward = dict(zip((i.id for i in items), writer_groups(items), strict=True))
    backward = dict(zip((i.id for i in reversed(items)), writer_groups(list(reversed(items))), strict=True))
    assert forward == backward
    assert forward["x1-001"] == forward["x2-001"] != forward["solo"]


def _pooled(item: GoldItem, passage: str) -> Pooled:
    hit = SimpleNamespace(chunk=SimpleNamespace(text=passage))  # only the text is read
    return Pooled(item, [hit], None, [], _group(item), {})  # type: ignore[arg-type, list-item]


def test_questions_asked_elsewhere_become_unanswerable_in_their_own_documents_group() -> None:
    items = [_item(f"c50a-{n:03d}", "law/a.txt") for n in range(1, 201)]
    chosen = _chosen(items, 1.0)
    assert chosen == items and _chosen(items, 0.25) == _chosen(items, 0.25) and 30 < len(_chosen(items, 0.25)) < 70
    asked = _asked_elsewhere([_pooled(i, "另一份文件的内容") for i in chosen])
    assert len(asked) == 200
    assert all(not p.item.answerable and not p.item.refs and not p.item.answers for p in asked)
    assert {_group(p.item) for p in asked} == {"law/a.txt"}  # the same fold as the answerable original


def test_a_question_the_other_index_answers_anyway_is_left_out() -> None:
    here, elsewhere = _item("c50a-001", "law/a.txt"), _item("c50a-002", "law/a.txt")
    asked = _asked_elsewhere([_pooled(here, "本规定自公布之日起施行，答案就在这里。"), _pooled(elsewhere, "无关的内容")])
    assert [p.item.id for p in asked] == ["c50a-002"]


def test_sample_set_ids_without_a_dash_are_one_writer_by_their_letters() -> None:
    groups = writer_groups([_item("ga001", "s/a.txt"), _item("ga002", "s/b.txt"), _item("h001", "s/c.txt")])
    assert groups[0] == groups[1] != groups[2]
