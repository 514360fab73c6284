"""Names of government units as people type them: one canonical key for 市发改局, 发改局 and
市发展和改革局 (and their Traditional forms).

The key folds the script, drops spaces and a leading level prefix (市/县/区/省), and shortens a
full name to its standard abbreviation from `ABBREVIATIONS`: the general short forms of
Chinese government bodies (发展和改革 -> 发改, 人力资源和社会保障 -> 人力社保 …), not any one
document's list. Abbreviations are applied to the longest full name first.
"""

from __future__ import annotations

import re

from .normalize import fold

# Full name part -> the short form used in government documents (documented in docs/records.md).
ABBREVIATIONS: dict[str, str] = {
    "发展和改革委员会": "发改委",
    "发展改革委员会": "发改委",
    "发展和改革局": "发改局",
    "发展改革局": "发改局",
    "经济和信息化局": "经信局",
    "经济和信息化委员会": "经信委",
    "科学技术局": "科技局",
    "人力资源和社会保障局": "人力社保局",
    "人力资源社会保障局": "人力社保局",
    "人社局": "人力社保局",
    "住房和城乡建设局": "住建局",
    "住房城乡建设局": "住建局",
    "交通运输局": "交通局",
    "文化广电旅游体育局": "文广旅体局",
    "文化广电旅游局": "文广旅局",
    "文化和旅游局": "文旅局",
    "市场监督管理局": "市场监管局",
    "卫生健康委员会": "卫健委",
    "卫生健康局": "卫健局",
    "卫生和计划生育委员会": "卫计委",
    "应急管理局": "应急局",
    "退役军人事务局": "退役军人局",
    "医疗保障局": "医保局",
    "自然资源和规划局": "资规局",
    "自然资源局": "资源局",
    "生态环境局": "环境局",
    "农业农村局": "农业农村局",
    "综合行政执法局": "综合执法局",
    "行政审批局": "审批局",
    "人民政府办公室": "府办",
    "政府办公室": "府办",
    "政府办": "府办",
    "人民银行": "人行",
    "国有资产监督管理委员会": "国资委",
    "国有资产监督管理办公室": "国资办",
    "投资促进中心": "投促中心",
    "大数据发展管理局": "数据局",
    "统计局": "统计局",
}
_ORDERED = sorted(ABBREVIATIONS, key=len, reverse=True)
_ABBREVIATE = re.compile("|".join(map(re.escape, _ORDERED)))
_LEVEL = re.compile(r"^(?:国家|国务院|全国|中国|市|县|区|省)(?!委|政府|人民政府|场|域)")
_NOISE = re.compile(r"[\s\"“”'‘’*]")


def abbreviate(text: str) -> str:
    """`text` folded, without spaces and quotes, with every full unit name shortened."""
    return _ABBREVIATE.sub(lambda m: ABBREVIATIONS[m.group(0)], _NOISE.sub("", fold(text)))


def shortens(short: str, key: str) -> bool:
    """Whether `short` is a short form of the unit `key` made the usual way: its first and last
    characters, and the others in order (人社部 of 人力资源社会保障部, 工信部 of 工业和信息化部)."""
    if not 3 <= len(short) < len(key) or short[0] != key[0] or short[-1] != key[-1]:
        return False
    pos = 0
    for ch in short[1:]:
        pos = key.find(ch, pos + 1)
        if pos < 0:
            return False
    return True


def unit_key(name: str) -> str:
    """The canonical key of a unit name: 市发展和改革局, 发改局, 市發改局 -> 发改局."""
    key = abbreviate(re.sub(r"[(（〔][^)）〕]*[)）〕]", "", name))
    return _LEVEL.sub("", key)
