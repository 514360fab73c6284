"""From answer text with [n] markers to citations of exact source lines.

An answer is a sequence of `Segment`s, each citing one passage and a line range inside it.
Extractive answers know their lines; an LLM's sentence is matched to the passage sentence it
shares most character bigrams with, so the citation narrows to the lines that hold it.
Markers that point at no passage are dropped. Citations are numbered in order of first use;
identical (doc, lines) share one number. `quote` is always the source lines verbatim.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

from ragqa.index.search import Hit
from ragqa.ingest.model import Document
from ragqa.ingest.normalize import fold
from ragqa.ingest.sentences import split_sentences

from .extractive import Segment
from .schemas import Citation

MARKER = re.compile(r"\[(\d{1,3})\]")


def _bigrams(text: str) -> set[str]:
    chars = [c for c in fold(text) if not c.isspace()]
    return {a + b for a, b in itertools.pairwise(chars)}


def narrow(text: str, hit: Hit) -> tuple[int, int]:
    """The line range of the passage sentence most like `text` (whole passage if none is)."""
    want = _bigrams(text)
    best, best_score = (hit.chunk.start_line, hit.chunk.end_line), 0.0
    for sentence in split_sentences(hit.chunk):
        have = _bigrams(sentence.text)
        if not have:
            continue
        score = len(want & have) / len(have | want) ** 0.5
        if score > best_score:
            best, best_score = (sentence.start_line, sentence.end_line), score
    return best


def parse_marked(answer: str, hits: list[Hit]) -> list[tuple[str, list[int]]]:
    """Split LLM text into (sentence, cited passage numbers); drop markers with no passage."""
    pieces: list[tuple[str, list[int]]] = []
    pos = 0
    text = ""
    for m in re.finditer(r"((?:\[\d{1,3}\])+)", answer):
        text += answer[pos : m.start()]
        numbers = [int(n) for n in MARKER.findall(m.group(1))]
        valid = [n for n in numbers if 1 <= n <= len(hits)]
        pieces.append((text, valid))
        text = ""
        pos = m.end()
    tail = answer[pos:]
    if tail.strip():
        pieces.append((tail, []))
    return pieces


def segments_from_llm(answer: str, hits: list[Hit]) -> list[tuple[str, list[Segment]]]:
    """(text piece, segments it cites) for every piece of an LLM answer."""
    out: list[tuple[str, list[Segment]]] = []
    pieces = parse_marked(answer, hits)
    for text, numbers in pieces:
        segs = []
        for n in numbers:
            hit = hits[n - 1]
            start, end = narrow(text, hit)
            segs.append(Segment(text, n, hit.chunk.doc_id, start, end))
        out.append((text, segs))
    return out


def assemble(
    pieces: list[tuple[str, list[Segment]]], hits: list[Hit], docs: Mapping[str, Document], renumber: bool = True
) -> tuple[str, list[Citation]]:
    """Answer text with markers, and its citations (quotes verbatim from the source).

    With `renumber`, citations are numbered 1.. in order of use (extractive answers). Without
    it, a citation keeps its passage number, so text already streamed with [n] stays right;
    a passage cited by several sentences then cites the span from the first to the last.
    """
    ids: dict[tuple[str, int, int], int] = {}
    position: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    answer = ""
    for text, segs in pieces:
        answer += text
        for seg in segs:
            key = (seg.doc, seg.start_line, seg.end_line) if renumber else (seg.doc, seg.passage, seg.passage)
            if not renumber and key in ids:
                old = citations[position[key]]
                start, end = min(old.start_line, seg.start_line), max(old.end_line, seg.end_line)
                citations[position[key]] = old.model_copy(
                    update={"start_line": start, "end_line": end, "quote": "\n".join(docs[seg.doc].lines[start - 1 : end])}
                )
            if key not in ids:
                doc = docs[seg.doc]
                chunk = hits[seg.passage - 1].chunk
                ids[key] = len(citations) + 1 if renumber else seg.passage
                position[key] = len(citations)
                citations.append(
                    Citation(
                        id=ids[key],
                        doc=seg.doc,
                        title=doc.title,
                        start_line=seg.start_line,
                        end_line=seg.end_line,
                        clause=chunk.clause,
                        quote="\n".join(doc.lines[seg.start_line - 1 : seg.end_line]),
                        page=doc.page_of(seg.start_line),
                        page_line=doc.line_on_page(seg.start_line),
                    )
                )
            marker = f"[{ids[key]}]"
            if not answer.endswith(marker):
                answer += marker
    return answer, citations


def pieces_from_segments(segments: tuple[Segment, ...]) -> list[tuple[str, list[Segment]]]:
    return [(seg.text, [seg]) for seg in segments]
