"""Answering: passages to an answer with citations, or a refusal, as typed values.

The extractive answerer (service/extractive.py) is the default; with an LLM configured, its
answer is used when it cites the passages, and any LLM fault falls back to the extractive one
(`llm.fallback` says so). A refusal is the `refused` field of `Answer`. The LLM is told to
reply with exactly the refusal sentence when the passages do not answer, and that sentence
(our own protocol string, in either script) is what marks its refusals.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ragqa.index.search import Hit
from ragqa.ingest.normalize import fold
from ragqa.prompts import render

from .citations import assemble, pieces_from_segments, segments_from_llm
from .conversation import Similar, followup
from .errors import LLMError
from .extractive import SUGGESTIONS, Ranker, Segment, answer_extractive
from .listing import build_definition, build_listing
from .question import QuestionProfile, profile_question, split_question
from .rerank import rerank
from .retrieval import Snapshot
from .schemas import Citation, DeltaEvent, Listing, LLMInfo

if TYPE_CHECKING:
    from .llm import LLM  # httpx, imported only with an LLM configured (pipeline._llm)

REFUSAL_SIMPLIFIED = "文档中没有找到这个问题的答案。"
REFUSAL_TRADITIONAL = "文件中沒有找到這個問題的答案。"


def refusal_text(question: str) -> str:
    """The refusal in the question's script."""
    nfkc = unicodedata.normalize("NFKC", question)
    return REFUSAL_TRADITIONAL if fold(nfkc) != nfkc else REFUSAL_SIMPLIFIED


def _is_refusal(text: str) -> bool:
    return any(sentence.rstrip("。") in text for sentence in (REFUSAL_SIMPLIFIED, REFUSAL_TRADITIONAL))


def _uncertain(segment: Segment, snap: Snapshot) -> bool:
    """Whether every line of `segment` was read by OCR with low confidence (never an answer)."""
    flagged = snap.index.documents[segment.doc].uncertain
    return bool(flagged) and all(n in flagged for n in range(segment.start_line, segment.end_line + 1))


@dataclass(frozen=True)
class Answer:
    text: str
    refused: bool
    citations: list[Citation]
    llm: LLMInfo = field(default_factory=lambda: LLMInfo(backend="extractive"))
    listing: Listing | None = None
    suggestions: list[Citation] = field(default_factory=list)  # with a refusal: passages that may still help


def list_answer(question: str, snap: Snapshot) -> Answer | None:
    """Every record the question's filter matches, as a list answer; None for other questions.
    Exact rows need no LLM, so this answer is the same with or without one."""
    found = build_listing(question, snap.records) or build_definition(question, snap.records)
    if found is None:
        return None
    return Answer(found.text, found.refused, found.citations, listing=found.listing)


class Answerer:
    """Extractive ranker, optional LLM, and the refusal threshold."""

    def __init__(self, ranker: Ranker, llm: LLM | None = None, refuse_below: float | None = None) -> None:
        self.ranker = ranker
        self.llm = llm
        self.refuse_below = refuse_below
        # The last questions' profiles and the keyword index they were weighed by: a question is
        # profiled for the rerank and again for the answer (about a millisecond and a half each).
        self._profiled: tuple[object, dict[tuple[str, str], QuestionProfile]] = (None, {})

    def _profiles(self, question: str, snap: Snapshot, focus: str) -> list[QuestionProfile]:
        keyword = snap.index.keyword
        seen, memo = self._profiled
        if seen is not keyword or len(memo) > 8:
            memo = {}
            self._profiled = (keyword, memo)
        out = []
        for part in split_question(question):
            if (part, focus) not in memo:
                memo[(part, focus)] = profile_question(part, keyword, focus, self.ranker.necessity)
            out.append(memo[(part, focus)])
        return out

    def answer(self, question: str, hits: list[Hit], snap: Snapshot, focus: str = "") -> Answer:
        """A list answer when the question asks for every matching record; else the LLM's
        grounded answer when one is configured and works, else the extractive one."""
        listed = list_answer(question, snap)
        if listed is not None:
            return listed
        if self.llm is None or not hits:
            return self.extractive(question, hits, snap, focus)
        try:
            text = self.llm.complete(self.messages(question, hits, snap))
            return self.grounded(text, question, hits, snap)
        except LLMError as exc:
            return self._fallback(question, hits, snap, exc)

    def stream(self, question: str, hits: list[Hit], snap: Snapshot, focus: str = "") -> Iterator[DeltaEvent | Answer]:
        """Deltas as the answer is produced, then the final Answer (always last)."""
        listed = list_answer(question, snap)
        if self.llm is not None and hits and listed is None:
            streamed = ""
            try:
                for delta in self.llm.stream(self.messages(question, hits, snap)):
                    streamed += delta
                    yield DeltaEvent(text=delta)
                yield self.grounded(streamed, question, hits, snap)
                return
            except LLMError as exc:
                answer = self._fallback(question, hits, snap, exc)
                yield DeltaEvent(text=answer.text, replace=True)
                yield answer
                return
        answer = listed or self.extractive(question, hits, snap, focus)
        for start in range(0, max(len(answer.text), 1), 12):
            yield DeltaEvent(text=answer.text[start : start + 12])
        yield answer

    def _fallback(self, question: str, hits: list[Hit], snap: Snapshot, exc: LLMError) -> Answer:
        answer = self.extractive(question, hits, snap)
        info = LLMInfo(backend="extractive", fallback=True, reason=f"{exc.reason}: {exc}")
        return Answer(answer.text, answer.refused, answer.citations, info, suggestions=answer.suggestions)

    def rewrite(self, question: str, history: list[tuple[str, str]], similar: Similar | None = None) -> str:
        """A follow-up made self-contained from `history` ((role, content), oldest first): by the
        LLM when one is configured and it answers sensibly, else by the extractive rewriter."""
        if self.llm is not None:
            turns = "\n".join(f"{'用户' if role == 'user' else '助手'}：{content[:500]}" for role, content in history[-6:])
            try:
                text = self.llm.complete(
                    [{"role": "system", "content": render("rewrite")}, {"role": "user", "content": render("rewrite_user", history=turns, question=question)}]
                )
                line = text.strip().splitlines()[0].strip(" \"'“”「」") if text.strip() else ""
                if 0 < len(line) <= 2 * len(question) + 200 and not _is_refusal(line):
                    return line
            except LLMError:
                pass
        return followup(question, history, similar)

    def messages(self, question: str, hits: list[Hit], snap: Snapshot) -> list[dict[str, str]]:
        """The chat messages that ask the LLM to answer from `hits` (titles from the same snapshot)."""
        docs = snap.index.documents
        passages = "\n\n".join(
            render(
                "passage",
                n=i,
                title=docs[h.chunk.doc_id].title,
                doc=h.chunk.doc_id,
                lines=f"{h.chunk.start_line}-{h.chunk.end_line}",
                clause=h.chunk.clause or "（正文）",
                text=h.chunk.text,
            )
            for i, h in enumerate(hits, start=1)
        )
        return [
            {"role": "system", "content": render("system", refusal=refusal_text(question))},
            {"role": "user", "content": render("user", passages=passages, question=question)},
        ]

    def reorder(self, question: str, hits: list[Hit], snap: Snapshot, focus: str = "") -> list[Hit]:
        """`hits` (retrieved `POOL` deep or more) with the head in answer-aware order (`rerank`)."""
        return rerank(self._profiles(question, snap, focus), hits, self.ranker.probabilities, snap.index.documents)

    def extractive(self, question: str, hits: list[Hit], snap: Snapshot, focus: str = "") -> Answer:
        """The best source sentences for `question` from `hits`, or a refusal. `focus`: the words
        the user typed when `question` is a follow-up rewritten from earlier turns."""
        segments: list[Segment] = []
        suggested: list[Segment] = []
        for q in self._profiles(question, snap, focus):
            draft = answer_extractive(q, hits, snap.index.documents, self.ranker, self.refuse_below)
            segments += [s for s in draft.segments if s not in segments and not _uncertain(s, snap)]
            suggested += [s for s in draft.suggested if s not in suggested]
        if not segments:
            suggestions = assemble(pieces_from_segments(tuple(suggested[:SUGGESTIONS])), hits, snap.index.documents)[1] if suggested else []
            return Answer(refusal_text(question), True, [], suggestions=suggestions)
        text, citations = assemble(pieces_from_segments(tuple(segments)), hits, snap.index.documents)
        return Answer(text, False, citations)

    def grounded(self, text: str, question: str, hits: list[Hit], snap: Snapshot) -> Answer:
        """The LLM's text with its [n] markers resolved to cited lines; LLMError when it cites nothing."""
        assert self.llm is not None
        info = LLMInfo(backend="openai", model=self.llm.model)
        if _is_refusal(text):
            return Answer(refusal_text(question), True, [], info)
        pieces = segments_from_llm(text, hits)
        if not any(segs for _, segs in pieces):
            raise LLMError("the LLM answer cites no passage, so it is not presented as grounded", "ungrounded")
        answer, citations = assemble(pieces, hits, snap.index.documents, renumber=False)
        return Answer(answer, False, citations, info)
