"""One table maps every ragqa error to one HTTP status and code; unknown faults hide internals."""

from __future__ import annotations

import pytest
from ragqa.eval.errors import AskerError, DocumentNotFound, GoldError
from ragqa.index.errors import IndexUnavailable
from ragqa.ingest.errors import ConfigError, RagqaError, ReadError, StoreDamaged
from ragqa.service.errors import LastDocument, LLMError, NotFound, http_error
from ragqa.service.schemas import ApiError


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ReadError("x"), 400, "unreadable_document"),
        (NotFound("x"), 404, "not_found"),
        (LastDocument("x"), 409, "last_document"),
        (LLMError("x", "timeout"), 502, "llm_failed"),
        (IndexUnavailable("x"), 503, "index_unavailable"),
        (StoreDamaged("x"), 503, "store_unavailable"),
        (ConfigError("x"), 500, "misconfigured"),
        (DocumentNotFound("x"), 502, "upstream_failed"),  # a subclass takes its parent's row
        (AskerError("x"), 502, "upstream_failed"),
        (GoldError("x"), 400, "bad_request"),
        (RagqaError("x"), 400, "bad_request"),
        (ApiError(413, "file_too_large", "x"), 413, "file_too_large"),
    ],
)
def test_each_error_has_one_status_and_code(error: Exception, status: int, code: str) -> None:
    assert http_error(error) == (status, code, "x")


def test_an_unexpected_fault_is_a_500_that_hides_its_message() -> None:
    status, code, message = http_error(KeyError("/srv/secret/path"))
    assert (status, code) == (500, "internal_error") and "secret" not in message


def test_errors_live_with_their_layer_under_one_base() -> None:
    assert ReadError.__module__ == "ragqa.ingest.errors" and IndexUnavailable.__module__ == "ragqa.index.errors"
    assert {LLMError.__module__, NotFound.__module__, LastDocument.__module__} == {"ragqa.service.errors"}
    assert all(issubclass(e, RagqaError) for e in (ReadError, IndexUnavailable, LLMError, NotFound, LastDocument, GoldError))
