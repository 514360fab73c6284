"""The v1 HTTP contract's answer and passage shapes, parsed into frozen dataclasses.

`parse_ask` and `parse_search` take the JSON of `POST /v1/ask` and
`POST /v1/search` (or the in-process pipeline's `model_dump()`), and raise
AskerError naming the missing or mistyped field when a response is outside
the contract. Optional fields (`clause`, `score`, `text`, `title`, `llm`,
`timings_ms`) default to empty values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ragqa.eval.errors import AskerError


@dataclass(frozen=True)
class Passage:
    doc: str
    start_line: int
    end_line: int
    clause: str = ""
    score: float = 0.0
    text: str = ""


@dataclass(frozen=True)
class Citation:
    id: int
    doc: str
    start_line: int
    end_line: int
    clause: str = ""
    quote: str = ""
    title: str = ""


@dataclass(frozen=True)
class AskResult:
    answer: str
    refused: bool
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    llm_backend: str | None = None
    llm_model: str | None = None
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    rewritten: str | None = None  # the self-contained question the service searched (follow-ups)


def _get(obj: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    if name not in obj:
        raise AskerError(f"{where} lacks '{name}' (not the v1 contract shape)")
    value = obj[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise AskerError(f"{where}: '{name}' should be {kind.__name__}, got {type(value).__name__}")
    return value


def _opt(obj: Mapping[str, Any], name: str, kind: type, default: Any, where: str) -> Any:
    if obj.get(name) is None:
        return default
    return _get(obj, name, kind, where)


def _object(obj: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise AskerError(f"{where} should be a JSON object, got {type(obj).__name__}")
    return obj


def parse_passage(obj: Any, where: str = "passage") -> Passage:
    """Parse one passage object of a search or ask response."""
    o = _object(obj, where)
    return Passage(
        doc=_get(o, "doc", str, where),
        start_line=_get(o, "start_line", int, where),
        end_line=_get(o, "end_line", int, where),
        clause=_opt(o, "clause", str, "", where),
        score=_opt(o, "score", float, 0.0, where),
        text=_opt(o, "text", str, "", where),
    )


def parse_citation(obj: Any, where: str = "citation") -> Citation:
    """Parse one citation object of an ask response."""
    o = _object(obj, where)
    return Citation(
        id=_get(o, "id", int, where),
        doc=_get(o, "doc", str, where),
        start_line=_get(o, "start_line", int, where),
        end_line=_get(o, "end_line", int, where),
        clause=_opt(o, "clause", str, "", where),
        quote=_opt(o, "quote", str, "", where),
        title=_opt(o, "title", str, "", where),
    )


def _list(obj: Mapping[str, Any], name: str, where: str) -> list[Any]:
    value = _opt(obj, name, list, [], where)
    assert isinstance(value, list)
    return value


def parse_search(obj: Any) -> tuple[Passage, ...]:
    """Parse a `/v1/search` response: `{"passages": [...]}`, best first."""
    o = _object(obj, "search response")
    items = _get(o, "passages", list, "search response")
    return tuple(parse_passage(p, f"search passage {i + 1}") for i, p in enumerate(items))


def parse_ask(obj: Any) -> AskResult:
    """Parse a non-streaming `/v1/ask` response."""
    o = _object(obj, "ask response")
    llm = _object(o.get("llm") or {}, "ask response 'llm'")
    timings = _object(o.get("timings_ms") or {}, "ask response 'timings_ms'")
    backend, model = llm.get("backend"), llm.get("model")
    return AskResult(
        answer=_get(o, "answer", str, "ask response"),
        refused=_get(o, "refused", bool, "ask response"),
        citations=tuple(
            parse_citation(c, f"citation {i + 1}")
            for i, c in enumerate(_list(o, "citations", "ask response"))
        ),
        passages=tuple(
            parse_passage(p, f"ask passage {i + 1}")
            for i, p in enumerate(_list(o, "passages", "ask response"))
        ),
        llm_backend=backend if isinstance(backend, str) else None,
        llm_model=model if isinstance(model, str) else None,
        timings_ms={
            k: float(v)
            for k, v in timings.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        },
        rewritten=o["rewritten"] if isinstance(o.get("rewritten"), str) else None,
    )
