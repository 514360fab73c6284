"""Term necessity: the term facts, the model read with numpy, the weights it gives a question's
terms, how it is learned from gold lines, and how it travels with the answer model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import lightgbm
import numpy as np
import pytest
from ragqa.eval.errors import EvalError
from ragqa.eval.goldset import UNANSWERABLE, GoldItem, Ref
from ragqa.eval.term_necessity import examples, main
from ragqa.eval.train_answerer import train
from ragqa.index.store import load_index
from ragqa.ingest.normalize import fold
from ragqa.service.errors import ModelError
from ragqa.service.extractive import MODEL_DIR, load_ranker
from ragqa.service.necessity import FEATURES, NecessityError, load_necessity, term_features
from ragqa.service.question import profile_question

from .conftest import DEV_GOLD, settings_for


def _model(path: Path, rising_with: str, seed: int = 5) -> Path:
    """A small binary model whose chance rises with the feature `rising_with`."""
    rng = np.random.default_rng(seed)
    x = rng.random((800, len(FEATURES)))
    y = (x[:, FEATURES.index(rising_with)] + 0.2 * rng.random(800) > 0.6).astype(float)
    booster = lightgbm.train({"objective": "binary", "num_leaves": 5, "min_data_in_leaf": 10, "verbose": -1, "seed": 1}, lightgbm.Dataset(x, y), 30)
    booster.save_model(str(path))
    return path


def test_term_facts_read_rarity_within_the_question_and_as_a_share_of_the_index(hash_index: Path) -> None:
    keyword = load_index(hash_index).keyword
    q = profile_question("义乌市城镇新增就业多少人？", keyword)
    rows = term_features(q.text, q.terms, keyword, q.near_frame)
    assert rows.shape == (len(q.terms), len(FEATURES))
    scaled, rank = rows[:, FEATURES.index("idf_scaled")], rows[:, FEATURES.index("idf_rank")]
    assert scaled.min() == 0.0 and scaled.max() == 1.0 and rank.min() == 0.0 and rank.max() == 1.0
    idf = [keyword.idf(t) for t in q.terms]
    for i in range(len(idf)):  # rank and scale follow IDF (ties in any order)
        for j in range(len(idf)):
            if idf[i] < idf[j]:
                assert rank[i] < rank[j] and scaled[i] < scaled[j]
    assert (rows[:, FEATURES.index("log_df_share")] <= 0).all()  # a share of the chunks, logged
    assert list(rows[:, FEATURES.index("n_terms")]) == [len(q.terms)] * len(q.terms)
    assert term_features("", {}, keyword, frozenset()).shape == (0, len(FEATURES))


def test_the_model_is_read_with_numpy_as_lightgbm_predicts_it(tmp_path: Path) -> None:
    path = _model(tmp_path / "necessity.txt", "idf_rank")
    model = load_necessity(path)
    x = np.random.default_rng(9).random((200, len(FEATURES)))
    np.testing.assert_allclose(model.forest.predict(x), lightgbm.Booster(model_file=str(path)).predict(x), rtol=1e-9, atol=1e-12)
    (tmp_path / "bad.txt").write_text("not a model", encoding="utf-8")
    with pytest.raises(NecessityError, match="term_necessity"):
        load_necessity(tmp_path / "bad.txt")
    with pytest.raises(NecessityError, match="term_necessity"):
        load_necessity(tmp_path / "missing.txt")


def test_each_terms_weight_is_its_idf_times_its_chance(hash_index: Path, tmp_path: Path) -> None:
    keyword = load_index(hash_index).keyword
    model = load_necessity(_model(tmp_path / "necessity.txt", "order"))  # later terms more necessary
    question = "义乌市城镇新增就业多少人？"
    plain, weighed = profile_question(question, keyword), profile_question(question, keyword, necessity=model)
    chance = model.of(plain.text, plain.terms, keyword, plain.near_frame)
    assert list(weighed.terms) == list(plain.terms)
    for t, w in plain.terms.items():
        assert weighed.terms[t] == pytest.approx(w * chance[t])
    assert 0 < min(chance.values()) < max(chance.values()) < 1
    assert weighed.near_frame == plain.near_frame and weighed.types == plain.types


def test_examples_label_a_term_by_whether_the_gold_lines_hold_it(hash_index: Path) -> None:
    index = load_index(hash_index)
    docs = dict(index.documents.items())
    doc_id, doc = next((d, v) for d, v in docs.items() if len(v.lines) > 3)
    line = doc.lines[2]
    items = [GoldItem("x-1", f"咱们{line[:6]}是什么？", ("x",), False, (Ref(doc_id, 3, 3),), "fact"),
             GoldItem("x-2", "没有答案的问题？", (), False, (), UNANSWERABLE)]
    x, y, where = examples(items, docs, index.keyword)
    q = profile_question(items[0].question, index.keyword)
    assert x.shape == (len(q.terms), len(FEATURES)) and where == [doc_id] * len(q.terms)
    assert list(y) == [float(t in fold(line)) for t in q.terms]
    assert 0 < y.sum() < len(y)  # the asker's 咱们 is not in the line; the line's own words are


def test_the_learner_says_what_is_wrong_with_its_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--gold", f"{tmp_path / 'none.jsonl'}={tmp_path}", "--out", str(tmp_path / "m.txt")]) == 2
    assert "no gold set" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--gold", "no-equals-sign", "--out", str(tmp_path / "m.txt")])
    assert not (tmp_path / "m.txt").exists()


def test_a_ranker_trained_with_necessity_needs_that_very_model_beside_it(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    (folder / "necessity.txt").unlink(missing_ok=True)
    meta = json.loads((folder / "answerer.json").read_text(encoding="utf-8"))
    meta.pop("necessity", None)  # a model trained on IDF weights alone
    (folder / "answerer.json").write_text(json.dumps(meta), encoding="utf-8")
    assert load_ranker(folder).necessity is None
    model = load_necessity(_model(folder / "necessity.txt", "order"))
    meta["necessity"] = {"sha256": model.sha256}
    (folder / "answerer.json").write_text(json.dumps(meta), encoding="utf-8")
    found = load_ranker(folder).necessity
    assert found is not None and found.sha256 == model.sha256
    _model(folder / "necessity.txt", "length", seed=6)  # another model in its place
    with pytest.raises(ModelError, match="sha256 differs"):
        load_ranker(folder)
    (folder / "necessity.txt").unlink()
    with pytest.raises(ModelError, match="necessity"):
        load_ranker(folder)


def test_training_weighs_by_the_given_model_saves_it_and_a_kept_ranker_brings_its_own(use_index: Path, tmp_path: Path) -> None:
    necessity = _model(tmp_path / "n.txt", "order")
    out = tmp_path / "kept"
    with pytest.raises(EvalError, match="brings the necessity model"):
        train([(str(DEV_GOLD), use_index)], out, settings_for(use_index), 5, 0.05, ranker=MODEL_DIR, necessity=necessity)
    meta = train([(str(DEV_GOLD), use_index)], out, settings_for(use_index), 5, 0.05, ranker=MODEL_DIR)
    shipped = json.loads((MODEL_DIR / "answerer.json").read_text(encoding="utf-8"))
    assert meta.get("necessity") == shipped.get("necessity")
    assert (out / "necessity.txt").exists() == ("necessity" in shipped)
