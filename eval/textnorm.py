"""Normalise text before an answer is compared with its gold strings.

Both sides go through `normalize`, in this order:

1. Unicode NFKC: full-width letters, digits and punctuation become their
   half-width forms (`５８％` -> `58%`, `（` -> `(`), composed tone marks stay composed;
2. whitespace is removed: every character `str.isspace` accepts, plus the
   zero-width space, joiners and the BOM;
3. pinyin annotations are removed: a parenthesised run of lowercase latin letters
   (a-z, ü and the tone-marked vowels) that follows a CJK character and holds at
   least one tone mark, so `產(chǎn)業(yè)` -> `產業` while `点(ccp)` stays as it is;
4. Traditional -> Simplified with OpenCC's `t2s` table (`產業` -> `产业`).

Case is kept: `1+5+X` does not match `1+5+x`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Protocol, cast

_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_PINYIN_LETTER = f"a-zü{_TONED}"
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_PINYIN = re.compile(f"(?<=[{_CJK}])\\((?=[{_PINYIN_LETTER}]*[{_TONED}])[{_PINYIN_LETTER}]+\\)")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
CITATION_MARKER = re.compile("[\\[［][0-9０-９]{1,3}[\\]］]")


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@lru_cache(maxsize=1)
def _t2s() -> _Converter:
    import opencc

    return cast(_Converter, opencc.OpenCC("t2s"))


def strip_pinyin(text: str) -> str:
    """Remove pinyin annotations such as `(chǎn)` that follow a CJK character."""
    return _PINYIN.sub("", text)


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese characters to Simplified with OpenCC `t2s`."""
    return _t2s().convert(text)


def normalize(text: str) -> str:
    """Return `text` in the comparison form described in the module docstring."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if not ch.isspace())
    text = _INVISIBLE.sub("", text)
    text = strip_pinyin(text)
    return to_simplified(text)


def strip_citation_markers(answer: str) -> str:
    """Remove `[n]` citation markers (one to three digits, half- or full-width) from an answer.

    Applied to the answer only, before `normalize`, so that a marker placed
    inside a sentence does not split a gold string.
    """
    return CITATION_MARKER.sub("", answer)
