"""RAGQA_MODEL_DIR: the service answers with a model folder of one's own (what 'ragqa train --out'
or 'make train MODEL_OUT=' wrote) instead of the shipped one, and says clearly when it cannot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ragqa.service.cli import main
from ragqa.service.errors import ModelError
from ragqa.service.extractive import MODEL_DIR
from ragqa.service.pipeline import Pipeline

from .conftest import settings_for

QUESTION = "东阳2023年GDP目标增长多少?"


def _copy(tmp_path: Path, threshold: float | None = None) -> Path:
    """The shipped model copied, its abstainer's threshold changed to `threshold` if given."""
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    if threshold is not None:
        meta = json.loads((folder / "answerer.json").read_text(encoding="utf-8"))
        meta["abstainer"]["threshold"] = threshold
        (folder / "answerer.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


def test_the_service_answers_with_the_model_folder_it_is_given(tmp_path: Path, hash_index: Path) -> None:
    shipped = Pipeline.from_settings(settings_for(hash_index))
    assert not shipped.ask(QUESTION).refused
    same = Pipeline.from_settings(settings_for(hash_index, model_dir=_copy(tmp_path)))
    assert same.ask(QUESTION).answer == shipped.ask(QUESTION).answer
    strict = Pipeline.from_settings(settings_for(hash_index, model_dir=_copy(tmp_path / "strict", threshold=1.0)))
    assert strict.ask(QUESTION).refused  # its own abstainer's threshold, not the shipped one's
    table = _copy(tmp_path / "table")
    body = json.loads((table / "expansions.json").read_text(encoding="utf-8"))
    body["table"] = {"增长": [["目标", 0.9]]}
    (table / "expansions.json").write_text(json.dumps(body), encoding="utf-8")
    own = Pipeline.from_settings(settings_for(hash_index, model_dir=table)).retrieval.expansions
    assert own is not None and own != shipped.retrieval.expansions  # the folder's table
    (table / "expansions.json").unlink()
    assert Pipeline.from_settings(settings_for(hash_index, model_dir=table)).retrieval.expansions == shipped.retrieval.expansions


def test_a_folder_without_a_model_or_with_a_broken_table_is_refused_with_the_fix(
    tmp_path: Path, hash_index: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ModelError, match=r"no answer model in .*ragqa train"):
        Pipeline.from_settings(settings_for(hash_index, model_dir=tmp_path / "empty"))
    broken = _copy(tmp_path)
    (broken / "expansions.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match=r"term_assoc.*RAGQA_MODEL_DIR"):
        Pipeline.from_settings(settings_for(hash_index, model_dir=broken))
    assert main(["ask", QUESTION, "--index", str(hash_index)]) == 0
    capsys.readouterr()
    empty = tmp_path / "none"
    empty.mkdir()
    monkeypatch.setenv("RAGQA_MODEL_DIR", str(empty))
    assert main(["ask", QUESTION, "--index", str(hash_index)]) == 1  # one line, no traceback
    err = capsys.readouterr().err
    assert err.startswith("ragqa ask: no answer model in") and "Traceback" not in err
    assert main(["serve", "--index", str(hash_index), "--port", "1"]) == 1  # stops before the index is prepared or a port bound
    assert capsys.readouterr().err.startswith("ragqa serve: no answer model in")
    (empty / "answerer.txt").write_text("tree", encoding="utf-8")
    (empty / "answerer.json").write_text("[]", encoding="utf-8")
    assert main(["ask", QUESTION, "--index", str(hash_index)]) == 1
    assert "is not an answer model's description" in capsys.readouterr().err


def test_a_model_whose_abstainer_reads_other_features_names_them(tmp_path: Path, hash_index: Path) -> None:
    older = _copy(tmp_path / "older")
    meta = json.loads((older / "answerer.json").read_text(encoding="utf-8"))
    meta["question_features"] = [f for f in meta["question_features"] if f != "doc_missing_general"]
    (older / "answerer.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelError, match=r"trained without doc_missing_general; retrain with 'ragqa train'"):
        Pipeline.from_settings(settings_for(hash_index, model_dir=older))
    newer = _copy(tmp_path / "newer")
    meta = json.loads((newer / "answerer.json").read_text(encoding="utf-8"))
    meta["question_features"] = [*meta["question_features"], "doc_size"]
    (newer / "answerer.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelError, match=r"trained on doc_size, which this code does not compute"):
        Pipeline.from_settings(settings_for(hash_index, model_dir=newer))
