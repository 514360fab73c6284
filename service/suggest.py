"""Suggested questions for the empty chat page, from the indexed documents' headings.

A top-level heading ("二、主要目标", "(一)坚持首位战略,实现人才科创能级显著提升") loses its
numbering and anything after its first comma, gets the place its document's title names, and
becomes "金华开发区坚持首位战略的主要内容是什么？". Documents take turns, so every document gets
a say before any gets two. Headings that only file things away (附件, 目录) are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ragqa.ingest.model import Chunk, Document
from ragqa.ingest.normalize import fold

from .conversation import slots

_NUMBERING = re.compile(r"^\s*(?:#+\s*)?(?:第[一二三四五六七八九十百零〇0-9]+[章节条編编]|[一二三四五六七八九十]+[、.．]|[(（][一二三四五六七八九十0-9]+[)）]|[0-9]+[、.．])\s*")
_FILING = re.compile(r"^(?:附件|附表|附录|目录|抄送|说明|备注)")
_BODY = re.compile(r"(?:人民政府|政府|办公室|管委会|委员会|[市县区]委)$")
_PARTY = re.compile(r"^中共")
MIN_CHARS, MAX_CHARS = 4, 18


def heading_topic(heading: str) -> str | None:
    """The topic a heading names, or None when it names none worth asking about."""
    text = _NUMBERING.sub("", heading).strip()
    text = re.split(r"[,，;；:：。]", text, maxsplit=1)[0].strip(" “”\"")
    if not (MIN_CHARS <= len(text) <= MAX_CHARS) or _FILING.match(text):
        return None
    return text


def candidate_questions(chunks: Iterable[Chunk], documents: Mapping[str, Document], limit: int | None = None) -> list[str]:
    """Questions from top-level headings, documents taking turns, in document order. With
    `limit`, the first `limit` of them, reading `chunks` (in document order) only until `limit`
    documents have a question: their first questions are then the first `limit`."""
    per_doc: dict[str, list[str]] = {}
    for chunk in chunks:
        if limit is not None and len(per_doc) >= limit and chunk.doc_id not in per_doc:
            break
        if not chunk.clause_path:
            continue
        # The top-level numbered heading: below the title of a document bundled into this one, if any.
        topic = heading_topic(next((p for p in chunk.clause_path if _NUMBERING.match(p)), chunk.clause_path[0]))
        if topic is None:
            continue
        doc = documents[chunk.doc_id]
        places = [_BODY.sub("", _PARTY.sub("", p)) for p in slots(fold(doc.title)).places]
        place = places[0] if places and places[0] not in fold(topic) else ""
        question = f"{place}{fold(topic)}的主要内容是什么？"
        found = per_doc.setdefault(chunk.doc_id, [])
        if question not in found:
            found.append(question)
    out: list[str] = []
    for round_ in range(max((len(q) for q in per_doc.values()), default=0)):
        out += [qs[round_] for qs in per_doc.values() if round_ < len(qs)]
    return out if limit is None else out[:limit]
