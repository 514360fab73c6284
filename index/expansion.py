"""Learned query expansion: the words a clause uses for what a question says in its own words.

    "必须多久办完？超期罚多少？" ─> question words 必须, 罚 … ─> + 应当 (0.67), 罚款 (0.85), 以下 (0.71) …

People ask 罚多少, 上限, 必须 and 监管部门; the clause that answers says 罚款, 不超过, 应当
and 监督管理. `python -m ragqa.eval.term_assoc` learns, from the train split's questions and the
lines that answer them, for each question word the answering lines lack, which words those lines
hold far more often than answering lines in general (a share P of the questions, a lift over the
base rate), kept only when questions about several documents agree, so that no one document's
vocabulary becomes a rule. The search adds these words to the BM25 query, each weighted
`FusionConfig.expansion_weight` × P; they move the keyword ranking only, and each hit's keyword
score stays the score of the question's own words, which the answerer reads as evidence.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

FORMAT = "ragqa-expansions-1"


class ExpansionError(ValueError):
    """An expansion table that cannot be read."""


@dataclass(frozen=True)
class Expansions:
    """Each question word's expansions: (word, P) pairs, best first."""

    table: Mapping[str, tuple[tuple[str, float], ...]]

    def extra(self, tokens: Iterable[str]) -> dict[str, float]:
        """The words to add for a query of `tokens`, each with its largest P over the query's
        words; never a word the query holds already."""
        have = set(tokens)
        out: dict[str, float] = {}
        for tok in have:
            for word, share in self.table.get(tok, ()):
                if word not in have and share > out.get(word, 0.0):
                    out[word] = share
        return out

    def to_json(self, meta: Mapping[str, object]) -> str:
        """The table as a JSON object (`format`, `meta`'s keys, `table`), one question word a line."""
        head = json.dumps({"format": FORMAT, **meta}, ensure_ascii=False)[:-1]
        rows = ",\n".join(f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps([[w, round(p, 4)] for w, p in v], ensure_ascii=False)}"
                           for k, v in sorted(self.table.items()))
        return f'{head}, "table": {{\n{rows}\n}}}}\n'


def load_expansions(path: Path) -> Expansions | None:
    """The table at `path`; None when there is no file (search without expansion)."""
    if not path.is_file():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("format") != FORMAT:
            raise ExpansionError(f"{path}: format {body.get('format')!r}, expected {FORMAT!r}; learn it again with 'python -m ragqa.eval.term_assoc'")
        table = {str(k): tuple((str(w), float(p)) for w, p in v) for k, v in body["table"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        if isinstance(e, ExpansionError):
            raise
        raise ExpansionError(f"{path}: not an expansion table ({e}); learn it again with 'python -m ragqa.eval.term_assoc'") from e
    return Expansions(table)
