"""Answer types: what kind of fact a question asks for, and what kinds a piece of text offers.

Both sides use the same names (`TYPES`). A question's types come from its interrogative frame
only (多少, 多长时间, 哪个部门, 第几条, 是否 …); a text's types come from generic detectors:
numbers (Arabic, or Chinese numerals read with cn2an), money, percentages, durations, dates
(and whether one is exact to the day), bounds (以上/以下/不超过/年满 …), article numbers,
organisation names by suffix, enumerations, definitions, conditions and modal rulings
(应当/不得/可以). The answer ranker combines these with the question's term coverage; none of
them names a topic, place or document.
"""

from __future__ import annotations

import re
from functools import lru_cache

import cn2an

TYPES = (
    "number",
    "money",
    "percent",
    "duration",
    "date",
    "day",
    "bound",
    "article",
    "org",
    "list",
    "yesno",
    "definition",
    "condition",
)

_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_CN_RUN = re.compile(f"[{_CN_DIGITS}]{{1,12}}")
_MEASURE = "个项家所条种类名人户元日天月年周倍次岁期批件款章节台辆座套张亩吨米"

# What the question's frame asks for. Frame words only: no subject matter.
_QUESTION: dict[str, re.Pattern[str]] = {
    "number": re.compile(r"多少|多大|多高|多长|多远|多重|(?<![哪第])几[^乎]|第几(?![条章节款项部])|比例|占比|比重|数量|规模"),
    "money": re.compile(r"多少钱|多少元|金额|费用|罚款|罚.{0,4}多少|多少.{0,3}罚|收费|补贴|补助|奖励|工资|价格|标准是多少"),
    "percent": re.compile(r"百分之|比例|占比|比重|增速|增长多少|下降多少|提高多少|增幅|降幅|[^多]少了?多少"),
    "duration": re.compile(r"多长时间|多久|几天|几日|几个月|几年|多少天|多少日|多少个?工作日|几个工作日|期限|时限|有效期|多少年"),
    "date": re.compile(r"什么时候|何时|哪天|哪一天|日期|哪一?年|几月|截止|落款|什么时间|时间节点|哪个年份"),
    "day": re.compile(r"哪天|哪一天|哪日|几月几|几号|日期|什么时候|何时|什么时间"),
    "bound": re.compile(r"最多|最高|最少|至少|最低|上限|下限|不超过|最长|最短|以上|以下|以内"),
    "article": re.compile(r"第几[条章节款项]|哪一?[条章节款](?!件)|哪个[条章节]|哪个条款|什么章|章名|哪一部分|哪个部分"),
    "org": re.compile(r"哪个?(?:单位|部门|机关|机构|组织|主体)|哪些(?:单位|部门|机关|机构)|由谁|谁|牵头|负责|主管|哪一?级"),
    "list": re.compile(r"哪些|哪几|哪[两二三四五六七八九十]{1,2}(?![十百千万])|分别|包括什么|包括哪|几类|几种|几个方面|有什么"),
    "yesno": re.compile(r"是否|能否|可否|能不能|可不可以|有没有|会不会|需不需要|要不要|吗[？?]?\s*$"),
    "definition": re.compile(r"是指|指什么|什么是|什么意思|含义|定义|是什么|何谓|具体指|怎么理解"),
    "condition": re.compile(r"什么情况|哪些情形|什么情形|哪种情况|条件|情况下"),
}

# What a text offers.
_NUMBER = re.compile(r"(?<![0-9])(?![12][0-9]{3}年)[0-9]+(?:\.[0-9]+)?")
_MONEY = re.compile(r"[0-9][0-9.,]*\s*(?:万|亿|千)?(?:元|美元|港元|新台币|新臺幣)|罚款|罰款|罚金")
_PERCENT = re.compile(r"[0-9.]+\s*%|百分之|[0-9.]+\s*个百分点|[0-9]\s*成|[0-9.]+‰")
_DURATION = re.compile(r"[0-9]+\s*(?:个)?(?:工作日|日|天|个月|月|年|周|小时|分钟)(?:内|以内|之内|后|前|起)?")
_DATE = re.compile(
    r"(?:19|20)[0-9]{2}\s*年|[0-9]{1,2}\s*月\s*[0-9]{1,2}\s*日|[0-9]{1,2}\s*月(?:底|末|前|份)|年底|年内|年末|月底|上半年|下半年|季度"
    r"|[12][0-9]{3}-[01]?[0-9]-[0-3]?[0-9]"
)
_DAY = re.compile(r"[0-9]{1,2}\s*月\s*[0-9]{1,2}\s*[日号]|[12][0-9]{3}-[01]?[0-9]-[0-3]?[0-9]|[12][0-9]{3}\.[01]?[0-9]\.[0-3]?[0-9]")
_BOUND = re.compile(r"以上|以下|以内|不超过|不少于|不低于|不高于|不足|至少|最多|最高|最低|上限|下限|未满|不满|年满|满[0-9]|未达|超过|不得少于|不得超过")
_ARTICLE = re.compile(r"第[0-9]+\s*[条章节款]")
_ORG = re.compile(
    r"[\u4e00-\u9fff]{1,12}(?<!全|内|外|局|干|细|大|本)(?:部门|机关|机构|单位|政府|委员会|办公室|办公厅|管理局|局|厅|部|委|办|院|署|中心|法院|检察院|银行|公司|协会)"
    r"(?![长分面势位员会])"
)
_LIST = re.compile(r"、[^、]{1,30}、|[(（][一二三四五六七八九十][)）].{2,}[(（][一二三四五六七八九十][)）]|[一二三四五]是.+[二三四五六]是|[:：].{2,40}[;；]")
_DEFINITION = re.compile(r"是指|指的是|系指|所称|是对|定义为|包括|即")
_CONDITION = re.compile(r"情形|情况下|之一的|的[,，]|如果|凡|应当.{0,20}的")
_YESNO = re.compile(r"应当|可以|不得|禁止|不予|必须|无需|不需要|免于|有权|不能|可|须")


@lru_cache(maxsize=4096)
def cn_number(run: str) -> str:
    try:
        return str(cn2an.cn2an(run, "smart"))
    except (ValueError, KeyError, IndexError):
        return run


@lru_cache(maxsize=65536)
def arabize(text: str) -> str:
    """`text` with Chinese numerals that count something (九十日, 五万元, 第二十三条) in Arabic
    digits, so one set of detectors reads both. A lone 一 inside a word (统一, 一是) stays."""

    def repl(m: re.Match[str]) -> str:
        run = m.group(0)
        after = text[m.end() : m.end() + 1]
        before = text[m.start() - 1 : m.start()] if m.start() else ""
        if len(run) == 1 and run in "一两" and not (after and after in _MEASURE) and before != "第":
            return run
        if not (after and (after in _MEASURE or after in "%分以")) and before != "第" and len(run) < 2:
            return run
        return cn_number(run)

    return _CN_RUN.sub(repl, text)


def question_types(question: str) -> frozenset[str]:
    """The answer types a (folded) question's frame asks for; empty for an open 'fact' question."""
    return frozenset(t for t, p in _QUESTION.items() if p.search(question))


@lru_cache(maxsize=65536)
def text_types(arabic: str) -> frozenset[str]:
    """The answer types a (folded, `arabize`d) text offers."""
    found = set()
    if _NUMBER.search(arabic):
        found.add("number")
    for name, pattern in (
        ("money", _MONEY),
        ("percent", _PERCENT),
        ("duration", _DURATION),
        ("date", _DATE),
        ("day", _DAY),
        ("bound", _BOUND),
        ("article", _ARTICLE),
        ("org", _ORG),
        ("list", _LIST),
        ("definition", _DEFINITION),
        ("condition", _CONDITION),
        ("yesno", _YESNO),
    ):
        if pattern.search(arabic):
            found.add(name)
    return frozenset(found)
