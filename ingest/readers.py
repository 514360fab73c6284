"""Readers: file bytes -> `Document` whose lines are the file's physical lines.

Readers are registered by file suffix (`register_reader`), so PDF and DOCX readers can be added
without touching callers. Text is decoded as UTF-8 (with or without BOM), UTF-16 with BOM, then
GB18030 (a superset of GBK and GB2312). A file that decodes as nothing sensible raises
`ReadError` with the reason; `read_tree` reports it as skipped, never silently. So does a file
that makes a reader's parser fail in a way it does not name (a damaged or hostile .docx whose XML
does not parse): that file is skipped with the parser's complaint, the others are read.

Who may read a document (docs/access.md) is written beside it: a sidecar `foo.pdf.groups` names
the groups of `foo.pdf`, a file `.groups` in a folder those of every document under the folder
(the nearest folder's wins; a sidecar beats any folder's). A group file holds one group per line
or several per line separated by commas; lines starting with `#` are comments. A group file that
cannot be read or names no group skips the documents it covers, never leaves them public.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path

from .errors import ReadError
from .model import Document, PagedLines, parse_groups
from .normalize import clean_line, fold
from .office import read_docx, read_image, read_pdf, read_xlsx

log = logging.getLogger("ragqa")
LineReader = Callable[[bytes], list[str] | PagedLines]
_READERS: dict[str, LineReader] = {}
_TITLE_HINT = re.compile(r"关于|通知|规划|计划|方案|建议|意见|报告|办法|决定|条例")
# A line that ends by naming a kind of official document ("…仲裁规则", "…学位法", "…作业要点（修正）"),
# read folded, so Traditional reads as Simplified; a title that ends so (or in 》) is not read on.
_KIND_END = re.compile(
    r"(?:通知|通报|公告|公报|规划|计划|方案|建议|意见|报告|办法|决定|条例|法|规则|规定|细则|标准|要点|章程|纲要|指南|批复|函"
    r"|决议|解释|说明|清单|目录|答记者问|决定书|协定|协议|合同|公约|准则)(?:[(（][^()（）]{0,30}[)）])?$"
)
# A line above a title that is not part of it: a labelled field (签发人：…), a date with its month, one that
# ends as a document number, a letterhead, an issuing body or a bracket does.
_LETTERHEAD = re.compile(
    r"[:：]|年[\d〇零一二三四五六七八九十]{1,2}月|(?:号|文件|局|厅|办公室|委员会|政府|中心|[)）》】])$"
)
# A line that starts an article, a chapter or an item ("第四条 …", "一、…", "（二）…", "3.…") is not a title.
_NUMBERED = re.compile(r"^(?:第[0-9一二三四五六七八九十百零〇两]+[条章节编款项]|[一二三四五六七八九十]+[、．.]|[(（][0-9一二三四五六七八九十]+[)）]|[0-9]+[、．.])")


def register_reader(suffix: str, reader: LineReader) -> None:
    """Make files ending in `suffix` (e.g. ".pdf") readable; `reader` returns physical lines."""
    _READERS[suffix.lower()] = reader


def supported_suffixes() -> list[str]:
    return sorted(_READERS)


def decode_text(data: bytes) -> str:
    """Decode bytes of a text file; raises ReadError when no encoding gives sensible text."""
    try:
        if data.startswith(b"\xef\xbb\xbf"):
            return data[3:].decode("utf-8", errors="strict")
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
    except UnicodeDecodeError as exc:
        raise ReadError(f"starts with a byte-order mark but is not valid {exc.encoding} after it (byte {exc.start})") from None
    if b"\x00" in data[:4096]:
        raise ReadError("binary content (NUL bytes), not a text file")
    for encoding in ("utf-8", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text
    raise ReadError("not valid UTF-8 or GB18030 text")


def _looks_like_text(text: str) -> bool:
    if not text:
        return True
    bad = sum(1 for c in text if (ord(c) < 32 and c not in "\r\n\t\f") or 0xE000 <= ord(c) <= 0xF8FF)
    return bad / len(text) < 0.01


def split_physical_lines(text: str) -> list[str]:
    """Physical lines as an editor numbers them (\\r\\n, \\r and \\n all end a line)."""
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_plain(data: bytes) -> list[str]:
    return split_physical_lines(decode_text(data))


class _HTMLLines(HTMLParser):
    """Collects visible text per physical source line; script/style/head content is dropped."""

    _HIDDEN = frozenset({"script", "style", "head", "title", "noscript", "template"})

    def __init__(self, n_lines: int) -> None:
        super().__init__(convert_charrefs=True)
        self.lines = [""] * n_lines
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        line_no, _ = self.getpos()
        for offset, part in enumerate(re.split(r"\r\n|\r|\n", data)):
            index = line_no - 1 + offset
            if 0 <= index < len(self.lines):
                self.lines[index] += part


def read_html(data: bytes) -> list[str]:
    """One entry per physical line of the HTML file: that line's visible text, tags removed."""
    source = decode_text(data)
    parser = _HTMLLines(len(split_physical_lines(source)))
    parser.feed(source)
    parser.close()
    return [" ".join(line.split()) for line in parser.lines]


register_reader(".txt", read_plain)
register_reader(".md", read_plain)
register_reader(".markdown", read_plain)
register_reader(".html", read_html)
register_reader(".htm", read_html)
register_reader(".pdf", read_pdf)
register_reader(".docx", read_docx)
register_reader(".xlsx", read_xlsx)
for _suffix in (".png", ".jpg", ".jpeg"):
    register_reader(_suffix, read_image)


def _title_shaped(line: str) -> bool:
    """4 to 120 characters, not an article or item, not ending a sentence or a question."""
    return 4 <= len(line) <= 120 and not _NUMBERED.match(fold(line)) and line[-1] not in "。；;：:？?"


def _wrapped_start(cleaned: list[str], i: int) -> str:
    """The lines just above a title line `cleaned[i]` that is only the tail of a wrapped title
    ("2025年福州市国民经济和社会发展" above "统计公报"): the line is a kind of document and
    little more (at most 8 characters), and each line above is title-shaped, at most 40 characters, and does
    not itself name a kind of document or read as a field, a date or a letterhead (`_LETTERHEAD`)."""
    if len(cleaned[i]) > 8 or not _KIND_END.search(fold(cleaned[i])):
        return ""
    start = ""
    for prev in reversed(cleaned[max(0, i - 2) : i]):
        folded = fold(prev)
        if (not prev or not _title_shaped(prev) or len(prev) > 40 or _KIND_END.search(folded) or _LETTERHEAD.search(folded)
                or len(start) + len(prev) + len(cleaned[i]) > 120):
            break
        start = prev + start
    return start


def guess_title(lines: list[str], fallback: str) -> str:
    """The document's title: the first early title-shaped line that names a notice, plan or report
    or ends by naming a kind of document ("…条例", "…规则", "…标准"), with the lines that continue it
    when extraction wrapped the title; else the first title-shaped line, else the first line of text."""
    cleaned = [clean_line(line) for line in lines[:30]]
    for i, line in enumerate(cleaned):
        folded = fold(line)
        if not _title_shaped(line) or not (_TITLE_HINT.search(folded) or _KIND_END.search(folded)):
            continue
        title = _wrapped_start(cleaned, i) + line
        for nxt in cleaned[i + 1 : i + 4]:
            if (not nxt or title.endswith("》") or _KIND_END.search(fold(title)) or len(title) + len(nxt) > 120
                    or nxt[-1] in "。：:,，;；" or _NUMBERED.match(fold(nxt))):
                break
            title += nxt
        return title
    first = [c for c in cleaned if _title_shaped(c)] or [c for c in cleaned if 4 <= len(c) <= 120]
    return first[0] if first else fallback


def read_document(path: Path, doc_id: str) -> Document:
    """Read one file into a Document; raises ReadError with the reason it cannot."""
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ReadError(f"unsupported file type {path.suffix or '(none)'}; supported: {', '.join(supported_suffixes())}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReadError(f"cannot read: {exc.strerror or exc}") from exc
    read = _run_reader(reader, data, path.suffix.lower(), doc_id)
    lines, pages = (read.lines, tuple(read.pages)) if isinstance(read, PagedLines) else (read, ())
    uncertain = tuple(read.uncertain) if isinstance(read, PagedLines) else ()
    if not any(line.strip() for line in lines):
        raise ReadError("no text in file")
    return Document(
        doc_id=doc_id,
        title=guess_title(lines, Path(doc_id).stem),
        lines=tuple(lines),
        sha256=hashlib.sha256(data).hexdigest(),
        pages=pages,
        uncertain=uncertain,
    )


def _run_reader(reader: LineReader, data: bytes, suffix: str, doc_id: str) -> list[str] | PagedLines:
    """`reader(data)`; any failure of the parsers it calls is a ReadError naming it (logged with
    its traceback), so one bad file is skipped instead of failing a whole upload or ingest."""
    try:
        return reader(data)
    except ReadError:
        raise
    except Exception as exc:
        log.warning("the %s reader failed on %r", suffix, doc_id[:200], exc_info=True)
        raise ReadError(f"not a readable {suffix} file ({type(exc).__name__}: {str(exc)[:200]})") from None


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


GROUPS = ".groups"  # a folder's group file, and the suffix of a document's sidecar


def iter_files(paths: list[Path]) -> Iterator[tuple[Path, str]]:
    """(file, doc_id) for every document file under `paths` (hidden files and folders and group
    files left out); doc_id is relative to its root. A link to a folder is followed, as a folder of
    shared drives linked in is meant to be read; a real folder reached twice (a link back up) is
    read once."""
    for root in paths:
        if root.is_file():
            yield root, root.name
            continue
        if not root.is_dir():
            raise ReadError(f"{root}: no such file or directory")
        for path in sorted(p for p in _walk(root) if p.is_file() and not p.name.endswith(GROUPS)):
            yield path, path.relative_to(root).as_posix()


def _walk(root: Path) -> Iterator[Path]:
    """Every file that is not hidden under `root`, through links to folders, each real folder once."""
    seen: set[str] = set()
    for folder, subfolders, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders[:] = []
            continue
        seen.add(real)
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        yield from (Path(folder, name) for name in files if not name.startswith("."))


def read_groups(path: Path) -> tuple[str, ...]:
    """The groups a group file names; ReadError when it cannot be read or names none."""
    try:
        text = decode_text(path.read_bytes())
        lines = [line for line in split_physical_lines(text) if not line.strip().startswith("#")]
        groups = tuple(sorted({g for line in lines for g in parse_groups(line)}))
    except (OSError, ReadError, ValueError) as exc:
        raise ReadError(f"its group file {path} is unusable ({exc}); fix it, or delete it to make the document public") from None
    if not groups:
        raise ReadError(f"its group file {path} names no group; write one group per line, or delete the file to make the document public")
    return groups


class _GroupRules:
    """Group files under one ingest root: a document's sidecar, else the nearest folder's `.groups`
    from its own folder up to the root (for a root that is a file: its folder only)."""

    def __init__(self, root: Path) -> None:
        self.root = root if root.is_dir() else root.parent
        self._folders: dict[Path, tuple[str, ...] | ReadError] = {}

    def groups(self, path: Path) -> tuple[str, ...]:
        sidecar = path.with_name(path.name + GROUPS)
        if sidecar.is_file():
            return read_groups(sidecar)
        found = self._folder(path.parent)
        if isinstance(found, ReadError):
            raise ReadError(str(found))
        return found

    def _folder(self, folder: Path) -> tuple[str, ...] | ReadError:
        if folder not in self._folders:
            try:
                rule = folder / GROUPS
                if rule.is_file():
                    self._folders[folder] = read_groups(rule)
                elif folder == self.root or folder == folder.parent or self.root not in folder.parents:
                    self._folders[folder] = ()
                else:
                    self._folders[folder] = self._folder(folder.parent)
            except ReadError as exc:
                self._folders[folder] = exc
        return self._folders[folder]


def read_files(paths: list[Path]) -> tuple[list[tuple[Document, Path]], list[Skipped]]:
    """Every file under `paths` read, with the file it came from and the groups its group files
    give it; unreadable or unsupported files, and files whose group file is unusable, are
    returned as skipped."""
    docs: list[tuple[Document, Path]] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    rules = {root: _GroupRules(root) for root in paths}
    for root in paths:
        for path, doc_id in iter_files([root]):
            if doc_id in seen:
                skipped.append(Skipped(str(path), f"duplicate document name {doc_id}"))
                continue
            try:
                groups = rules[root].groups(path)
                docs.append((replace(read_document(path, doc_id), groups=groups), path))
                seen.add(doc_id)
            except ReadError as exc:
                skipped.append(Skipped(str(path), str(exc)))
    return docs, skipped


def read_tree(paths: list[Path]) -> tuple[list[Document], list[Skipped]]:
    """Every file under `paths` read; unreadable or unsupported files are returned as skipped."""
    docs, skipped = read_files(paths)
    return [doc for doc, _ in docs], skipped
