"""Names for the synthetic corpus (eval/synth.py): the ones the source documents use, and new
ones for each copy.

`detect_names` finds, by rules rather than lists, the place names (a two-character stem before
市/县/镇/街道 that jieba tags as a name of no great frequency, or does not know and sees there
twice), leaders (before 市长/县长 牵头, after 牵头市领导) and unit names (市…局/办/委/中心/集团). New
names come from characters written alike in Simplified and Traditional, so one name serves
documents in either script, and are distinct across copies (`unique_names`).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ragqa.ingest.model import Document
from ragqa.ingest.normalize import fold

# Characters synthetic names are made of: written the same in Simplified and Traditional
# (checked with OpenCC at use), so one name serves documents in either script.
PLACE_CHARS = "川峰岭溪湖林泉松柏桥沙塘坪岩泽源庄埠湾潭屏宁安平康泰丰永昌嘉祥福瑞良仁信茂兰芝竹梅桃杏柳枫榆槐桂荷莲霞星曦"
SURNAMES = "王李张刘陈杨吴周徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段章钱汤尹黎易常武乔贺赖龚文"
GIVEN = "文明华平志建秀英丽敏静芳军伟杰斌超勇毅俊峰磊晨宇航林海兵新春秋清松柏玉珍云霞"

_PLACE_SUFFIX = re.compile(r"^(?:市|县|镇|街道)")
_NAME_FLAGS = frozenset({"ns", "nr", "nrt", "nz"})
_COMMON = 1000  # jieba frequency from which a word is a common word (新建, 公正), not a place
_LEADER = re.compile(r"([\u4e00-\u9fff]{2,3}?)(?:常务|常委)?副?[市县]长牵头|牵头[市县]领导[:：]\s*([\u4e00-\u9fff]{2,3})")
_UNIT = re.compile(
    r"[市县縣](?![级級民场場第])[^\s,，、:：;；。()（）*\d\"“”‘’《》第]{1,10}?(?:(?<![布格大全])局|办|辦|委|中心|集团|集團|管委会|管委會)(?![会會员員])"
)


@lru_cache(maxsize=1)
def _s2t() -> Any:
    import opencc

    return opencc.OpenCC("s2t")


def invariant(chars: str) -> str:
    """The characters of `chars` that Simplified and Traditional write alike, once each."""
    s2t = _s2t()
    return "".join(dict.fromkeys(c for c in chars if s2t.convert(c) == c and fold(c) == c))


@dataclass(frozen=True)
class Names:
    """What the source corpus names: place stems (Simplified) with the spellings found for
    each, leaders, and unit names; `main` is each document's most mentioned place."""

    places: dict[str, tuple[str, ...]]
    persons: tuple[str, ...]
    units: tuple[str, ...]
    main: dict[str, str]


def _place_stems(text: str) -> Counter[str]:
    """Two-character stems before 市/县/镇/街道 that jieba tags as a name (place, person,
    other proper noun) of no great frequency, or does not know and sees there twice or more;
    common words of another kind (做好市…, 示范县…) are not stems. With the count of times each
    stands before a suffix."""
    import jieba
    import jieba.posseg as pseg

    jieba.initialize()
    found: Counter[str] = Counter()
    unknown: set[str] = set()
    for line in fold(text).splitlines():
        words = jieba.lcut(line)
        for i, word in enumerate(words):
            stem = ""
            if len(word) == 2 and i + 1 < len(words) and _PLACE_SUFFIX.match(words[i + 1]):
                stem = word
            elif len(word) in (3, 4) and _PLACE_SUFFIX.match(word[2:]):
                stem = word[:2]
            if not stem or not all("\u4e00" <= c <= "\u9fff" for c in stem) or stem[1] in "市县镇乡区省" or stem[0] in "各全本我该":
                continue
            tagged = list(pseg.cut(stem))
            if len(tagged) == 1 and (tagged[0].flag not in _NAME_FLAGS or (jieba.get_FREQ(stem) or 0) >= _COMMON):
                continue
            if len(tagged) > 1:
                unknown.add(stem)
            found[stem] += 1
    return Counter({s: n for s, n in found.items() if n >= 2 or s not in unknown})


def _inside_others(stems: Counter[str], text: str) -> set[str]:
    """Stems most of whose occurrences overlap a stem seen more often before a suffix (阳江 in 东阳江)."""
    out = set()
    for stem in stems:
        spots = [m.start() for m in re.finditer(stem, text)]
        shadowed = sum(1 for i in spots if any(o != stem and stems[o] > stems[stem] for o in (text[i - 1 : i + 1], text[i + 1 : i + 3])))
        if spots and shadowed * 2 >= len(spots):
            out.add(stem)
    return out


def detect_names(docs: Sequence[Document]) -> Names:
    """The names `perturb` replaces, found by the rules in the module docstring."""
    stems: Counter[str] = Counter()
    persons: dict[str, None] = {}
    units: dict[str, None] = {}
    for doc in docs:
        text = "\n".join(doc.lines)
        stems.update(_place_stems(text))
        for m in _LEADER.finditer(text):
            persons[m.group(1) or m.group(2)] = None
        for m in _UNIT.finditer(text):
            units[m.group(0)] = None
    folded = fold("\n".join(line for doc in docs for line in doc.lines))
    shadowed = _inside_others(stems, folded)
    stems = Counter({s: n for s, n in stems.items() if s not in shadowed and not any(s in p for p in persons)})
    spellings: dict[str, set[str]] = {s: {s, _s2t().convert(s)} for s in stems}
    cities = {s for s in stems if re.search(f"{s}[市县]", folded)}
    main: dict[str, str] = {}
    for doc in docs:
        counts: Counter[str] = Counter()
        for line in doc.lines:
            line_folded = fold(line)
            aligned = len(line_folded) == len(line)
            for stem in stems:
                for m in re.finditer(stem, line_folded):
                    counts[stem] += 1 + 10_000 * (stem in cities)  # the most mentioned city or county
                    if aligned:
                        spellings[stem].add(line[m.start() : m.end()])
        main[doc.doc_id] = counts.most_common(1)[0][0] if counts else ""
    units_kept = tuple(u for u in units if not any(p in u for p in persons))
    return Names({s: tuple(sorted(spellings[s])) for s in sorted(stems)}, tuple(persons), units_kept, main)


def _encode(index: int, alphabet: str, length: int) -> str:
    out = []
    for _ in range(length):
        index, digit = divmod(index, len(alphabet))
        out.append(alphabet[digit])
    return "".join(out)


def unique_names(count: int, total: int, copy: int, alphabet: str, seed: int, prefix: Sequence[str] = ("",)) -> list[str]:
    """`count` names for `copy`, distinct from every other copy's: index copy*count+j sent
    through a seeded affine bijection of [0, M) and written in `alphabet` (with a prefix)."""
    length = 2
    while len(prefix) * len(alphabet) ** length < total:
        length += 1
    space = len(prefix) * len(alphabet) ** length
    rng = random.Random(f"names:{seed}:{alphabet}")
    a = rng.randrange(1, space)
    while math.gcd(a, space) != 1:
        a = rng.randrange(1, space)
    b = rng.randrange(space)
    names = []
    for j in range(count):
        code = (a * (copy * count + j) + b) % space
        head, rest = divmod(code, len(alphabet) ** length)
        names.append(prefix[head] + _encode(rest, alphabet, length))
    return names
