"""jieba's dictionaries from index/jiebadict.py's tables: the same dicts and the same tokens as
jieba's own loading, on every line of the sample corpus and every dev gold question."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jieba
import pytest
from ragqa.index import jiebadict
from ragqa.index.keyword import tokenize
from ragqa.ingest.normalize import match_line, normalize_query

from .conftest import DEV_GOLD, ROOT, SAMPLES

if TYPE_CHECKING:
    from jieba.posseg import POSTokenizer


def _posseg() -> Any:
    """jieba.posseg, imported only once conftest has configured jieba (the import is a load)."""
    return importlib.import_module("jieba.posseg")


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> tuple[jieba.Tokenizer, POSTokenizer]:
    """A tokenizer and tagger that jieba loads its own way: dict.txt parsed, no cache of ours."""
    tokenizer = jieba.Tokenizer()
    tokenizer.tmp_dir = str(tmp_path_factory.mktemp("jieba-own"))
    tokenizer.initialize()
    return tokenizer, _posseg().POSTokenizer(tokenizer)


def _texts() -> list[str]:
    lines = [line for path in sorted(SAMPLES.iterdir()) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [json.loads(row)["question"] for row in DEV_GOLD.read_text(encoding="utf-8").splitlines() if row.strip()]
    return lines + [match_line(line) for line in lines] + questions + [normalize_query(q) for q in questions]


def test_tables_round_trip_jiebas_dictionaries(own: tuple[jieba.Tokenizer, POSTokenizer], tmp_path: Path) -> None:
    tokenizer, tagger = own
    path = tmp_path / "jieba.tables"
    assert jiebadict.save_tables(path, tokenizer.FREQ, tokenizer.total, tagger.word_tag_tab)
    tables = jiebadict.read_tables(path)
    assert tables is not None
    freq, total, word_tags = tables
    assert freq == tokenizer.FREQ and len(freq) > 490_000
    assert total == tokenizer.total
    assert word_tags == tagger.word_tag_tab and len(word_tags) > 340_000


def test_service_tokens_are_jiebas_own(own: tuple[jieba.Tokenizer, POSTokenizer]) -> None:
    """conftest configured jieba from the tables (configure_jieba with a cache folder)."""
    assert any(jiebadict.table_path(ROOT / ".ragqa" / "cache" / "jieba").parent.glob("jieba-*.tables"))
    tokenizer, tagger = own
    posseg = _posseg()
    assert jieba.dt.FREQ == tokenizer.FREQ and posseg.dt.word_tag_tab == tagger.word_tag_tab
    texts = _texts()
    assert len(texts) > 1000
    for text in texts:
        assert jieba.lcut_for_search(text) == tokenizer.lcut_for_search(text), text
    for text in texts[::5]:  # tagging is slow; the tables are equal anyway
        assert [tuple(p) for p in posseg.cut(text)] == [tuple(p) for p in tagger.cut(text)], text


def test_damaged_or_foreign_tables_are_not_used(tmp_path: Path) -> None:
    path = tmp_path / "jieba.tables"
    path.write_bytes(b"\x00not marshal")
    assert jiebadict.read_tables(path) is None
    assert not path.exists()
    assert jiebadict.read_tables(tmp_path / "missing.tables") is None
    assert not jiebadict.save_tables(path, {"a": 1}, 1, {"b": "n"})  # a word that is not a key
    assert not path.exists()


_SCRIPT = """
import json, sys
from pathlib import Path
from ragqa.index.jiebadict import table_path
from ragqa.index.keyword import configure_jieba, tokenize
cache = Path(sys.argv[1])
had = table_path(cache).exists()
configure_jieba(cache)
loaded_tagger = "jieba.posseg" in sys.modules
import jieba.posseg
texts = json.loads(sys.stdin.read())
print(json.dumps({"had_tables": had, "loaded_tagger": loaded_tagger,
                  "tokens": [tokenize(t) for t in texts], "tags": [[tuple(p) for p in jieba.posseg.cut(t)] for t in texts]}))
"""


def test_fresh_process_writes_then_reads_the_tables(tmp_path: Path) -> None:
    """The first start loads jieba its own way and writes the tables; the next reads them; both
    tokenise alike, and as this process does."""
    texts = _texts()[::20]
    runs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path)], input=json.dumps(texts), capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout))
    assert [r["had_tables"] for r in runs] == [False, True]
    assert [r["loaded_tagger"] for r in runs] == [True, True]
    assert runs[0]["tokens"] == runs[1]["tokens"] == [tokenize(t) for t in texts]
    assert runs[0]["tags"] == runs[1]["tags"] == [[list(p) for p in _posseg().cut(t)] for t in texts]
