"""Cross-references: the articles of its own document a clause names by number.

    第二十六条 违反本条例第十四条规定的，由城市管理行政执法部门没收犬只……并处以一万元以上二万元以下罚款。
        ─> it is also searched by 第十四条's text: 在城市建成区内禁止开办犬类交易场所……

A penalty clause names the conduct it punishes only by the number of the article that forbids it,
and a rule's "依第七条第一项规定之劳工" names its people the same way. A question about that conduct
uses the words of the referenced article, which the penalty clause lacks. `references`
gives, for a chunk's lines, the text of the articles they name in the same document (a number
after another act's name, such as 劳动基准法第五十六条, is that act's and is left out). It is kept
as the chunk's `cited` text, which BM25 and the dense embedding read (index/store.embed_text) and
which is never shown, quoted or read by the answer features, since the answer model was trained
on clauses without it. (Put in the context instead, where the features read it, it gave the same
figures on c48–c50 as this search-only form, so the choice rests on keeping the features' inputs
what the model was trained on: eval/pending/c50/README.md, c51/README.md.)
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

import cn2an

from .normalize import fold

_NUM = r"[0-9零〇一二三四五六七八九十百千两]+"
_LETTER = r"[A-Z]{1,2}"  # Hong Kong's inserted sections: 第119E條
# An article's own label at the start of its line: 第十四条 / 第 14 條 / 第十条之一 / 第119E條 (not 第24-1條,
# whose -1 comes before 條: such an article stays inside the one above it, a known limit)
_LABEL = re.compile(rf"^\s*第\s*({_NUM})\s*({_LETTER})?\s*[条條](?:\s*之\s*({_NUM})|-([0-9]+))?")
# A reference in running text with the subsection, paragraph or item it names: 第七條第一項第三款,
# 第 9(1)(a) 條, 第十条之一
_PARENS = r"(?:\s*[（(][0-9A-Za-z]{1,3}[)）])*"
_REF = re.compile(rf"第\s*({_NUM})\s*({_LETTER})?({_PARENS})\s*[条條](?:之({_NUM}))?((?:第{_NUM}[款项項目])*)")
_SUB = re.compile(rf"第({_NUM})[款项項目]")
_PAREN = re.compile(r"[（(]([0-9A-Za-z]{1,3})[)）]")
_ACTS = "法|条例|條例|办法|辦法|规定|規定|细则|細則|规则|規則|决定|決定|标准|標準|准则|準則|章程|要点|要點|措施|通则|通則|公约|公約|协定|協定"
_OWN_ACT = re.compile(rf"本(?:{_ACTS})$")  # 本法, 本条例, 本辦法, 本規定 … : this document
_OTHER_ACT = re.compile(r"(?:[法例则則定》规規办辦章准準标標]|章[)）])$")  # another act's name (or its chapter number, (第210章)) ends here
_DIVISION = re.compile(rf"^\s*第\s*{_NUM}\s*[章节節编編]")
_ITEM = r"[（(]\s*{0}\s*[)）]|{0}\s*[、.．]"

PER_REF = 120  # characters of one referenced article (or its paragraph or item)
MOST = 4  # references kept per chunk, in the order the chunk names them


def _number(text: str) -> int | None:
    try:
        return int(text) if text.isdigit() else int(cn2an.cn2an(text, "smart"))
    except (ValueError, KeyError, TypeError):
        return None


def _key(main: str, sub: str | None) -> tuple[int, str] | None:
    """An article's number and what follows it, as the label or citation writes it: 之一 stays 一 (a
    citation 第十条之一 finds the label 第十条之一), an inserted section's letter stays itself."""
    n = _number(main)
    if n is None:
        return None
    if sub and not sub.isalpha():
        sub = str(_number(sub) or "")
    return (n, sub or "")


class Articles:
    """A document's articles by number, each with the 1-based lines of its text (label excluded
    when it stands alone on its line)."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = lines
        self.spans: dict[tuple[int, str], tuple[int, int]] = {}
        self._firsts: list[int] = []  # the line each article starts on, in order
        self._keys: list[tuple[int, str]] = []  # and its number
        current: tuple[int, str] | None = None
        start = 0
        for n, raw in enumerate(lines, start=1):
            m = _LABEL.match(raw)
            ends = m is not None or bool(_DIVISION.match(raw))
            if ends and current is not None:
                self.spans[current] = (start, n - 1)
                current = None
            if m:
                key = _key(m.group(1), m.group(2) or m.group(3) or m.group(4))
                if key is not None and key not in self.spans:
                    current, start = key, n
                    self._firsts.append(n)
                    self._keys.append(key)
        if current is not None:
            self.spans[current] = (start, len(lines))
        self._bodies: dict[tuple[tuple[int, str], tuple[str, ...]], str] = {}

    def own(self, line: int) -> tuple[int, str] | None:
        """The article line `line` belongs to."""
        at = bisect.bisect_right(self._firsts, line) - 1
        if at < 0:
            return None
        key = self._keys[at]
        first, last = self.spans[key]
        return key if first <= line <= last else None

    def body(self, key: tuple[int, str], subs: tuple[str, ...]) -> str:
        """Article `key`'s text without its label: the item or paragraph `subs` names when it can
        be found (an item by its marker, a paragraph by its line), else the article's start.
        Kept per (article, subs): a long article cited by many chunks is read once."""
        if (key, subs) not in self._bodies:
            self._bodies[key, subs] = self._body(key, subs)
        return self._bodies[key, subs]

    def _body(self, key: tuple[int, str], subs: tuple[str, ...]) -> str:
        first, last = self.spans[key]
        rows = [_LABEL.sub("", self.lines[n - 1], count=1).strip() if n == first else self.lines[n - 1].strip() for n in range(first, last + 1)]
        rows = [r for r in rows if r]
        if not rows:
            return ""
        if subs:
            k = subs[-1]
            names = {k, cn2an.an2cn(k)} if k.isdigit() and len(k) <= 4 else {k}  # no item is numbered past 9999
            marker = re.compile("^(?:" + "|".join(_ITEM.format(re.escape(x)) for x in names) + ")")
            for r in rows[1:]:
                if marker.match(r):
                    return rows[0][: PER_REF // 2] + " " + r[:PER_REF]
            if len(subs) == 1 and subs[0].isdigit() and 0 < int(subs[0]) <= len(rows):
                return rows[int(subs[0]) - 1][:PER_REF]
        return " ".join(rows)[:PER_REF]


def references(articles: Articles, text_lines: Sequence[tuple[int, str]]) -> str:
    """The folded text of the articles `text_lines` (line number, raw text) name in their own
    document, one per line, at most MOST; "" when they name none (or only their own article)."""
    if not articles.spans:
        return ""
    seen: set[tuple[tuple[int, str], tuple[str, ...]]] = set()
    out: list[str] = []
    for n, raw in text_lines:
        own = articles.own(n)
        label = _LABEL.match(raw)
        for m in _REF.finditer(raw):
            if label and m.start() < label.end():
                continue  # the line's own label
            before = raw[max(0, m.start() - 4) : m.start()]
            if _OTHER_ACT.search(before) and not _OWN_ACT.search(before):
                continue
            key = _key(m.group(1), m.group(2) or m.group(4))
            if key is None or key == own or key not in articles.spans:
                continue
            subs = tuple(_PAREN.findall(m.group(3))) + tuple(str(n) for n in (_number(x) for x in _SUB.findall(m.group(5))) if n)
            if (key, subs) in seen:
                continue
            seen.add((key, subs))
            text = fold(articles.body(key, subs))
            if text and text not in out:  # two citations read back to the same text count once
                out.append(text)
            if len(out) >= MOST:
                return "\n".join(out)
    return "\n".join(out)
