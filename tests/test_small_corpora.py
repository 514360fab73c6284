"""Small corpora for training: each raw question set's train items, with an index of only the
documents they are about, built from the merged index's chunks and vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from ragqa.eval.small_corpora import _split, main
from ragqa.index.store import load_index, reconstruct_vectors

from .conftest import DEV_GOLD, SAMPLES


def _sets(tmp_path: Path) -> tuple[Path, Path, dict[str, list[str]]]:
    """A train split of dev's items and two raw sets: c1 about documents 000–002, c2 about 003–004.
    One item of c1 is left out of the train split, as a test-split item is."""
    lines = [line for line in DEV_GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_doc: dict[str, list[str]] = {}
    for line in lines:
        item = json.loads(line)
        if item["refs"]:
            by_doc.setdefault(item["refs"][0]["doc"], []).append(line)
    c1 = [line for d in sorted(by_doc) if d < "003" for line in by_doc[d]]
    c2 = [line for d in sorted(by_doc) if d >= "003" for line in by_doc[d]]
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "c1.jsonl").write_text("\n".join(c1) + "\n", encoding="utf-8")
    (raw / "c2.jsonl").write_text("\n".join(c2) + "\n", encoding="utf-8")
    (raw / "aggregate_x.jsonl").write_text(c1[0] + "\n", encoding="utf-8")  # not a question set: ignored
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(c1[1:] + c2) + "\n", encoding="utf-8")
    return train, raw, {"c1": c1[1:], "c2": c2}


def test_each_set_gets_an_index_of_its_own_documents_with_the_merged_index_vectors(tmp_path: Path, hash_index: Path) -> None:
    train, raw, sets = _sets(tmp_path)
    out = tmp_path / "small"
    args = ["--gold", str(train), "--raw", str(raw), "--corpora", str(SAMPLES), "--live", str(hash_index), "--out", str(out)]
    assert main([*args, "--max-docs", "3"]) == 0
    pairs = (out / "pairs.txt").read_text(encoding="utf-8").split()
    assert pairs == ["--gold", f"{out / 'c1' / 'gold.jsonl'}={out / 'c1' / 'index'}", "--gold", f"{out / 'c2' / 'gold.jsonl'}={out / 'c2' / 'index'}"]
    live = load_index(hash_index)
    live_vectors = dict(zip([c.text for c in live.chunks], reconstruct_vectors(live), strict=True))
    for name in ("c1", "c2"):
        docs = {r["doc"][:3] for line in sets[name] for r in json.loads(line)["refs"]}  # an item citing two documents brings both
        assert (out / name / "gold.jsonl").read_text(encoding="utf-8").splitlines() == sets[name]
        small = load_index(out / name / "index")
        assert {d[:3] for d, _ in small.documents.items()} == docs
        assert len(small.chunks) == sum(1 for c in live.chunks if c.doc_id[:3] in docs)
        for chunk, vector in zip(small.chunks, reconstruct_vectors(small), strict=True):
            np.testing.assert_array_equal(vector, live_vectors[chunk.text])  # taken, not embedded again


def test_a_set_about_more_documents_than_allowed_is_cut_with_each_item_beside_its_document(tmp_path: Path, hash_index: Path) -> None:
    train, raw, sets = _sets(tmp_path)
    out = tmp_path / "small"
    args = ["--gold", str(train), "--raw", str(raw), "--corpora", str(SAMPLES), "--live", str(hash_index), "--out", str(out)]
    assert main([*args, "--max-docs", "2"]) == 0
    names = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert names == ["c1-1", "c1-2", "c2"]
    items = 0
    for name in names:
        docs = {d for d, _ in load_index(out / name / "index").documents.items()}
        assert len({json.loads(line)["refs"][0]["doc"] for line in (out / name / "gold.jsonl").read_text(encoding="utf-8").splitlines()}) <= 2
        for line in (out / name / "gold.jsonl").read_text(encoding="utf-8").splitlines():
            assert {r["doc"] for r in json.loads(line)["refs"]} <= docs
            items += 1
    assert items == len(sets["c1"]) + len(sets["c2"])
    assert _split(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]
    assert _split(["a", "b", "c", "d", "e"], 4) == [["a", "b", "c"], ["d", "e"]]
    assert [len(g) for g in _split(list("abcdefg"), 3)] == [3, 2, 2] and _split([], 3) == []


def test_bad_arguments_are_refused_with_a_reason(tmp_path: Path, hash_index: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--gold", str(tmp_path / "none.jsonl"), "--live", str(hash_index), "--out", str(tmp_path / "o")]) == 2
    assert "need the gold set" in capsys.readouterr().err
    train, raw, _ = _sets(tmp_path)
    assert main(["--gold", str(train), "--raw", str(raw), "--max-docs", "0", "--out", str(tmp_path / "o")]) == 2
    assert "--max-docs" in capsys.readouterr().err
    args = ["--gold", str(train), "--raw", str(raw), "--out", str(tmp_path / "o")]
    assert main([*args, "--corpora", str(SAMPLES), "--live", str(tmp_path / "no-index")]) == 2  # one line, no traceback
    assert "no-index" in capsys.readouterr().err
    partial = tmp_path / "partial"
    partial.mkdir()
    for doc in sorted(SAMPLES.iterdir())[:3]:  # documents 003 and 004 missing
        (partial / doc.name).symlink_to(doc)
    assert main([*args, "--corpora", str(partial), "--live", str(hash_index)]) == 2
    assert "cites" in capsys.readouterr().err and not (tmp_path / "o" / "pairs.txt").exists()


def test_whole_puts_every_document_of_a_gold_set_and_all_its_items_in_one_index(tmp_path: Path, hash_index: Path) -> None:
    out = tmp_path / "own"
    assert main(["--gold", str(DEV_GOLD), "--whole", "dev", "--corpora", str(SAMPLES), "--live", str(hash_index), "--out", str(out)]) == 0
    lines = [line for line in DEV_GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert (out / "dev" / "gold.jsonl").read_text(encoding="utf-8").splitlines() == lines  # unanswerable items too
    cited = {r["doc"] for line in lines for r in json.loads(line)["refs"]}
    assert {d for d, _ in load_index(out / "dev" / "index").documents.items()} == cited
    assert sorted(p.name for p in (out / "dev" / "docs").iterdir()) == sorted(cited)
