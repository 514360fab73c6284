"""The configurable LLM: any OpenAI-compatible `/v1/chat/completions` endpoint over httpx.

vLLM, Ollama, llama.cpp's server and hosted APIs all speak this protocol. The client owns an
injected `httpx.Client`, so tests hand it `httpx.MockTransport` or point it at a fake server.
Timeouts are set; 429 and 5xx answers and connection failures are retried a bounded number of
times with backoff (honouring Retry-After up to 10 s); everything else becomes `LLMError` with a
short `reason` ("timeout", "connect", "http_503", "bad_body", "stream_cut") that the service
reports in `llm.reason` when it falls back to the extractive answerer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Protocol

import httpx
from ragqa.ingest.errors import ConfigError

from .errors import LLMError


class LLM(Protocol):
    """Prompt in, text out, whole or streamed."""

    model: str

    def complete(self, messages: list[dict[str, str]]) -> str: ...

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]: ...


class OpenAIChat:
    """Client of an OpenAI-compatible chat-completions endpoint."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        client: httpx.Client | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        retries: int = 2,
        max_tokens: int = 512,
        temperature: float = 0.0,
        backoff: float = 0.5,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"RAGQA_LLM_BASE_URL {base_url!r} must start with http:// or https://")
        if not model:
            raise ConfigError("RAGQA_LLM_MODEL is empty; name the model the endpoint serves (e.g. qwen2.5:7b)")
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout, connect=connect_timeout))
        self._headers = headers
        self._retries = retries
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._backoff = backoff

    def _body(self, messages: list[dict[str, str]], stream: bool) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "temperature": self._temperature,
            "max_tokens": self._max_tokens,
            "stream": stream,
        }

    def _send(self, body: dict[str, Any], stream: bool) -> httpx.Response:
        attempt = 0
        while True:
            try:
                request = self._client.build_request("POST", self.url, json=body, headers=self._headers)
                response = self._client.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                error = LLMError(f"LLM endpoint {self.url} timed out", "timeout")
                cause: Exception = exc
            except httpx.TransportError as exc:
                error = LLMError(f"cannot reach LLM endpoint {self.url}: {exc}", "connect")
                cause = exc
            else:
                if response.status_code < 400:
                    return response
                if stream:
                    response.read()
                error = LLMError(f"LLM endpoint answered HTTP {response.status_code}: {response.text[:200]}", f"http_{response.status_code}")
                cause = httpx.HTTPStatusError("status", request=response.request, response=response)
                retryable = response.status_code == 429 or response.status_code >= 500
                response.close()
                if not retryable:
                    raise error from cause
                delay = _retry_after(response) or self._backoff * (2**attempt)
                if attempt < self._retries:
                    attempt += 1
                    time.sleep(min(delay, 10.0))
                    continue
                raise error from cause
            if attempt >= self._retries:
                raise error from cause
            time.sleep(self._backoff * (2**attempt))
            attempt += 1

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant message's text; LLMError on any failure after retries."""
        response = self._send(self._body(messages, False), stream=False)
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"LLM endpoint sent an unexpected body: {response.text[:200]}", "bad_body") from exc
        if not isinstance(content, str):
            raise LLMError("LLM endpoint sent a message without text content", "bad_body")
        return content

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Text deltas as the endpoint sends them; LLMError("stream_cut") if it ends early."""
        response = self._send(self._body(messages, True), stream=True)
        finished = False
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    finished = True
                    break
                try:
                    choice = json.loads(data)["choices"][0]
                except (ValueError, KeyError, IndexError, TypeError) as exc:
                    raise LLMError(f"LLM stream sent an unexpected event: {data[:200]}", "bad_body") from exc
                text = (choice.get("delta") or {}).get("content")
                if text:
                    yield text
                if choice.get("finish_reason"):
                    finished = True
        except httpx.HTTPError as exc:
            raise LLMError(f"LLM stream broke off: {exc}", "stream_cut") from exc
        finally:
            response.close()
        if not finished:
            raise LLMError("LLM stream ended before the answer was finished", "stream_cut")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None
