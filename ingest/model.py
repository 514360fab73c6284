"""The records that flow from files to the index: `Document` and `Chunk`.

A chunk always knows its source: the document, the 1-based physical line range, and, when a
single long line was split at sentence ends, the character offsets inside the first and last
line. `chunk_source_text(doc, chunk) == chunk.text` holds for every chunk.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

CLAUSE_SEP = " › "
GROUP_CHARS = 64  # longest group name
GROUP_SEPARATOR = re.compile(r"[,，]")


@dataclass(frozen=True)
class PagedLines:
    """What a reader of a paged format returns: the lines, and the page (1-based) of each."""

    lines: list[str]
    pages: list[int]
    uncertain: list[int] = field(default_factory=list)  # 1-based lines OCR read with low confidence


@dataclass(frozen=True)
class Document:
    """A file's text as a person opens it: `lines[0]` is physical line 1. For paged sources
    (PDF) `pages[i]` is the page of line i+1; empty for text that has no pages."""

    doc_id: str
    title: str
    lines: tuple[str, ...]
    sha256: str = ""
    pages: tuple[int, ...] = ()
    uncertain: tuple[int, ...] = ()  # lines OCR read with low confidence: searchable, never quoted as an answer
    groups: tuple[str, ...] = ()  # who may read it (service/access.py); empty: everyone

    def line(self, n: int) -> str:
        """Physical line `n` (1-based)."""
        return self.lines[n - 1]

    def page_of(self, n: int) -> int | None:
        """The page of line `n`, or None when the source has no pages."""
        return self.pages[n - 1] if self.pages else None

    def line_on_page(self, n: int) -> int | None:
        """Line `n`'s place on its page (1 = the page's first kept line), or None without pages."""
        if not self.pages:
            return None
        page = self.pages[n - 1]
        return n - self.pages.index(page)


def parse_groups(text: str) -> tuple[str, ...]:
    """Group names from comma-separated `text` (`,` or `，`), NFC, sorted and unique. ValueError
    naming the name when one is over 64 characters or has a control character (a line break
    among them: a group file splits its lines before calling this)."""
    names = set()
    for raw in GROUP_SEPARATOR.split(text):
        name = unicodedata.normalize("NFC", raw.strip())
        if not name:
            continue
        shown = repr(name[:40]) + ("…" if len(name) > 40 else "")
        if len(name) > GROUP_CHARS:
            raise ValueError(f"group {shown} is {len(name)} characters long; a group name may have {GROUP_CHARS}")
        odd = next((c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Cs")), None)
        if odd is not None:
            raise ValueError(f"group {shown} has a control character (U+{ord(odd):04X}) in it; group names are plain text")
        names.add(name)
    return tuple(sorted(names))


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """A clause (or table row, or part of a long clause) of one document.

    `text` is the original source text of lines `start_line..end_line` joined by newlines,
    cut at `start_char` in the first line and at `end_char` in the last line (None = line end).
    `match_text` is the normalised Simplified-Chinese text used for search only.
    """

    doc_id: str
    start_line: int
    end_line: int
    clause_path: tuple[str, ...]
    text: str
    match_text: str
    kind: str = "clause"
    start_char: int = 0
    end_char: int | None = None
    context: str = field(default="", compare=False)
    clause_lines: tuple[int, ...] = ()
    # the text of the articles these lines cite by number (ingest/xref.py): searched, never shown,
    # and not read by the answer features
    cited: str = field(default="", compare=False)

    @property
    def clause(self) -> str:
        """The heading trail as one string, e.g. "三、工作任务 › (二)… › 一是"."""
        return CLAUSE_SEP.join(self.clause_path)

    def to_json(self) -> dict[str, object]:
        return {
            "doc_id": self.doc_id,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "clause_path": list(self.clause_path),
            "text": self.text,
            "match_text": self.match_text,
            "kind": self.kind,
            "start_char": self.start_char,
            "end_char": self.end_char,
            "context": self.context,
            "clause_lines": list(self.clause_lines),
            **({"cited": self.cited} if self.cited else {}),
        }

    @classmethod
    def from_json(cls, d: dict[str, object]) -> Chunk:
        path = d["clause_path"]
        assert isinstance(path, list)
        end_char = d.get("end_char")
        return cls(
            doc_id=str(d["doc_id"]),
            start_line=int(str(d["start_line"])),
            end_line=int(str(d["end_line"])),
            clause_path=tuple(str(p) for p in path),
            text=str(d["text"]),
            match_text=str(d["match_text"]),
            kind=str(d.get("kind", "clause")),
            start_char=int(str(d.get("start_char", 0))),
            end_char=None if end_char is None else int(str(end_char)),
            context=str(d.get("context", "")),
            clause_lines=tuple(int(str(n)) for n in _as_list(d.get("clause_lines"))),
            cited=str(d.get("cited", "")),
        )


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, (list, tuple)) else []


def chunk_source_text(doc: Document, chunk: Chunk) -> str:
    """The exact source text a chunk claims to hold, cut from the document's lines."""
    lines = list(doc.lines[chunk.start_line - 1 : chunk.end_line])
    if chunk.end_char is not None:
        lines[-1] = lines[-1][: chunk.end_char]
    lines[0] = lines[0][chunk.start_char :]
    return "\n".join(lines)
