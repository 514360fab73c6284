"""Errors of the service layer, and the one table that maps every ragqa error to HTTP.

`STATUS` is the only place a status or an error code is chosen for an exception: the app's
handler, upload jobs and the OpenAI-compatible route all go through `http_error`. An error
class not in the table is looked up by its bases, so a new subclass inherits its parent's
status; anything else is a 500 `internal_error` whose message hides the internals.
"""

from __future__ import annotations

from ragqa.eval.errors import AskerError, EvalError
from ragqa.index.errors import IndexUnavailable
from ragqa.ingest.errors import ConfigError, RagqaError, ReadError, StoreDamaged

from .schemas import ApiError


class LLMError(RagqaError):
    """The LLM endpoint failed; `reason` is a short machine-readable cause."""

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason


class ModelError(RagqaError):
    """The answer model is missing, cannot be read or was trained on other features; retrain with 'ragqa train'."""


class NotFound(RagqaError):
    """A document, a line range within it, or a job does not exist."""


class LastDocument(RagqaError):
    """Deleting this document would leave the index empty; an index needs one document."""


STATUS: dict[type[Exception], tuple[int, str]] = {
    ReadError: (400, "unreadable_document"),
    NotFound: (404, "not_found"),
    LastDocument: (409, "last_document"),
    LLMError: (502, "llm_failed"),
    IndexUnavailable: (503, "index_unavailable"),
    ModelError: (503, "model_unavailable"),
    StoreDamaged: (503, "store_unavailable"),
    ConfigError: (500, "misconfigured"),
    AskerError: (502, "upstream_failed"),
    EvalError: (400, "bad_request"),
    RagqaError: (400, "bad_request"),
}
HIDDEN = "the server failed unexpectedly; the fault is logged"


def http_error(exc: Exception) -> tuple[int, str, str]:
    """(status, code, message) for any exception; unexpected ones get a 500 that hides internals."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message
    for cls in type(exc).__mro__:
        if cls in STATUS:
            status, code = STATUS[cls]
            return status, code, str(exc)
    return 500, "internal_error", HIDDEN
