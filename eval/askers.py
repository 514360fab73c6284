"""Where answers come from: a running service over HTTP, or the pipeline in this process.

`Asker` is the edge the runner talks to. Its methods return the v1 contract's
JSON (see DESIGN.md) and raise AskerError when the call fails; `contract.py`
parses what they return.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from ragqa.eval.errors import AskerError, DocumentNotFound


class Asker(Protocol):
    """Answers questions for an eval run; every method may raise AskerError."""

    @property
    def concurrency(self) -> int:
        """How many items the runner may have in flight at once (1 = not thread-safe)."""
        ...

    def ask(self, question: str, top_k: int, history: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        """The `POST /v1/ask` response JSON for `question` (a follow-up of `history`, (role, content)
        turns) with `top_k` passages."""
        ...

    def search(self, query: str, top_k: int) -> dict[str, Any]:
        """The `POST /v1/search` response JSON: `{"passages": [...]}`, best first."""
        ...

    def documents(self) -> dict[str, int]:
        """Every indexed document name mapped to its number of physical lines."""
        ...

    def document_lines(self, doc: str) -> list[str]:
        """All physical lines of `doc`, line 1 first; DocumentNotFound if unknown."""
        ...

    def config(self) -> dict[str, Any]:
        """What the answering side reports about itself (index, embedder, LLM)."""
        ...


def _error_message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        message = body["error"]["message"]
        if isinstance(message, str):
            return message
    except (ValueError, KeyError, TypeError):
        pass
    return resp.text.strip().replace("\n", " ")[:200] or resp.reason_phrase


class HttpAsker:
    """Calls a running ragqa service, retrying connection errors and 5xx with backoff.

    `retries` is the number of extra attempts after the first; the waits are
    `backoff_s`, 2*`backoff_s`, 4*`backoff_s`... A 4xx is not retried. Pass
    `client` (for example one over `httpx.MockTransport`) to control the
    transport; otherwise the asker owns a client and `close()` closes it.
    """

    def __init__(
        self,
        base_url: str,
        client: httpx.Client | None = None,
        concurrency: int = 4,
        retries: int = 3,
        backoff_s: float = 0.5,
        timeout_s: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise AskerError(f"--url must start with http:// or https://, got '{base_url}'")
        if concurrency < 1 or retries < 0 or backoff_s < 0:
            raise AskerError("HttpAsker needs concurrency >= 1, retries >= 0 and backoff_s >= 0")
        self.base_url = base_url.rstrip("/")
        self._owned = client is None
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout_s, connect=10.0))
        self._concurrency = concurrency
        self._retries = retries
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._lock = threading.Lock()
        self._documents: dict[str, int] | None = None

    @property
    def concurrency(self) -> int:
        return self._concurrency

    def close(self) -> None:
        if self._owned:
            self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.base_url + path
        last = ""
        for attempt in range(self._retries + 1):
            if attempt:
                self._sleep(self._backoff_s * 2 ** (attempt - 1))
            try:
                resp = self._client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                last = f"cannot reach {url}: {type(exc).__name__}: {exc}"
                continue
            if resp.status_code >= 500:
                last = f"{method} {url} answered {resp.status_code}: {_error_message(resp)}"
                continue
            if resp.status_code == 404:
                raise DocumentNotFound(f"{method} {url} answered 404: {_error_message(resp)}")
            if resp.status_code >= 400:
                raise AskerError(
                    f"{method} {url} answered {resp.status_code}: {_error_message(resp)}"
                )
            try:
                return resp.json()
            except ValueError:
                raise AskerError(f"{method} {url} did not answer JSON") from None
        raise AskerError(f"{last} (gave up after {self._retries + 1} attempts)")

    def ask(self, question: str, top_k: int, history: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        payload: dict[str, Any] = {"question": question, "top_k": top_k}
        if history:
            payload["history"] = [{"role": role, "content": content} for role, content in history]
        body = self._call("POST", "/v1/ask", json=payload)
        return body if isinstance(body, dict) else {"unexpected": body}

    def search(self, query: str, top_k: int) -> dict[str, Any]:
        body = self._call("POST", "/v1/search", json={"query": query, "top_k": top_k})
        return body if isinstance(body, dict) else {"unexpected": body}

    def documents(self) -> dict[str, int]:
        with self._lock:
            if self._documents is None:
                body = self._call("GET", "/v1/documents")
                try:
                    self._documents = {d["doc"]: int(d["lines"]) for d in body["documents"]}
                except (KeyError, TypeError, ValueError):
                    raise AskerError(
                        f"GET {self.base_url}/v1/documents did not answer "
                        '{"documents": [{"doc", "lines", ...}]}'
                    ) from None
            return dict(self._documents)

    def document_lines(self, doc: str) -> list[str]:
        total = self.documents().get(doc)
        if total is None:
            raise DocumentNotFound(f"document '{doc}' is not in {self.base_url}/v1/documents")
        path = f"/v1/documents/{quote(doc, safe='')}/lines"
        by_n: dict[int, str] = {}
        start = 1
        while start <= total:
            body = self._call("GET", path, params={"start": start, "end": total})
            try:
                got = {int(row["n"]): str(row["text"]) for row in body["lines"]}
            except (KeyError, TypeError, ValueError):
                raise AskerError(f"GET {path} did not answer the lines shape") from None
            if not got or max(got) < start:
                break
            by_n.update(got)
            start = max(got) + 1
        missing = [n for n in range(1, total + 1) if n not in by_n]
        if missing:
            raise AskerError(f"GET {path} returned no line {missing[0]} of {total} for '{doc}'")
        return [by_n[n] for n in range(1, total + 1)]

    def config(self) -> dict[str, Any]:
        health: Any = None
        try:
            resp = self._client.get(self.base_url + "/healthz")
            health = resp.json() if resp.is_success else None
        except (httpx.HTTPError, ValueError):
            health = None
        return {"mode": "http", "url": self.base_url, "healthz": health}


def _dump(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    return obj


class InProcessAsker:
    """Runs the service's `Pipeline` in this process (one item at a time).

    The pipeline is imported when the asker is built, so the eval package
    loads without the service. Pass `pipeline` to wrap one already built.
    Any exception the pipeline raises becomes an AskerError with its message.
    """

    def __init__(
        self,
        index_dir: str | None = None,
        llm_backend: str | None = None,
        top_k: int | None = None,
        pipeline: Any = None,
    ) -> None:
        if pipeline is None:
            try:
                from ragqa.service.pipeline import Pipeline
                from ragqa.service.settings import get_settings
            except ImportError as exc:
                raise AskerError(
                    f"the in-process pipeline is not available ({exc}); "
                    "use --url to evaluate a running service"
                ) from None
            overrides = {
                k: v
                for k, v in (
                    ("index_dir", index_dir),
                    ("llm_backend", llm_backend),
                    ("top_k", top_k),
                )
                if v is not None
            }
            try:
                pipeline = Pipeline.from_settings(get_settings(**overrides))
            except Exception as exc:
                raise AskerError(f"cannot start the pipeline: {exc}") from None
        self._pipeline = pipeline

    @property
    def concurrency(self) -> int:
        return 1

    def _run(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:
            raise AskerError(f"pipeline.{what} failed: {type(exc).__name__}: {exc}") from None

    def ask(self, question: str, top_k: int, history: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        from ragqa.service.schemas import Turn

        turns = [Turn.model_validate({"role": role, "content": content}) for role, content in history]
        result = _dump(self._run("ask", lambda: self._pipeline.ask(question, top_k, turns)))
        return result if isinstance(result, dict) else {"unexpected": result}

    def search(self, query: str, top_k: int) -> dict[str, Any]:
        hits = self._run("search", lambda: self._pipeline.search(query, top_k))
        return {"passages": [_dump(h) for h in hits]}

    def documents(self) -> dict[str, int]:
        infos = self._run("documents", lambda: self._pipeline.documents())
        return {str(_dump(i)["doc"]): int(_dump(i)["lines"]) for i in infos}

    def document_lines(self, doc: str) -> list[str]:
        if doc not in self.documents():
            raise DocumentNotFound(f"document '{doc}' is not in the index")
        return [
            str(line)
            for line in self._run("document_lines", lambda: self._pipeline.document_lines(doc))
        ]

    def config(self) -> dict[str, Any]:
        reported = self._run("config", lambda: self._pipeline.config())
        return {"mode": "in-process", **(_dump(reported) if isinstance(reported, dict) else {})}
