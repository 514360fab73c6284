"""Errors raised by ragqa's library code.

Every error a user can cause or fix derives from one base, so entry points catch one type,
print its message (which names the thing and the fix) and exit non-zero::

    RagqaError
     ├── ReadError          a file could not be read or decoded as text
     ├── IndexError_        an index folder is missing, damaged or built by another version
     ├── ConfigError        a setting is invalid (names the RAGQA_* variable)
     ├── LLMError           the configured LLM endpoint failed (timeout, HTTP status, bad body)
     ├── NotFound           a document or line range asked for does not exist
     └── LastDocument       deleting would leave the index without documents
"""

from __future__ import annotations


class RagqaError(Exception):
    """Base of every error ragqa raises on purpose; the message says what to do next."""


class ReadError(RagqaError):
    """A file could not be read, or its bytes decode as nothing sensible."""


class IndexError_(RagqaError):
    """An index folder is missing, incomplete, or incompatible with this build."""


class ConfigError(RagqaError):
    """A setting has a value ragqa cannot use."""


class LLMError(RagqaError):
    """The LLM endpoint failed; `reason` is a short machine-readable cause."""

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason


class NotFound(RagqaError):
    """A document, or a line range within it, does not exist."""


class LastDocument(RagqaError):
    """Deleting this document would leave the index empty; an index needs one document."""
