"""The base of every error ragqa raises on purpose, and the errors of reading files.

Each layer keeps its own errors (`index/errors.py`, `service/errors.py`, `eval/errors.py`);
all derive from `RagqaError`, so entry points catch one type, print its message (which names
the thing and the fix) and exit non-zero. `service/errors.py` maps each to one HTTP status::

    RagqaError
     ├── ConfigError        a setting is invalid (names the RAGQA_* variable)         ingest/
     ├── ReadError          a file could not be read or decoded as text               ingest/
     ├── StoreDamaged       the document store's catalog cannot be read               ingest/
     ├── IndexUnavailable   an index folder is missing, damaged or of another version index/
     ├── LLMError           the configured LLM endpoint failed                        service/
     ├── ModelError         the answer model is missing, unreadable or of other features service/
     ├── NotFound           a document, line range or job does not exist              service/
     ├── LastDocument       deleting would leave the index without documents          service/
     └── EvalError …        gold sets, askers, baselines                              eval/
"""

from __future__ import annotations


class RagqaError(Exception):
    """Base of every error ragqa raises on purpose; the message says what to do next."""


class ConfigError(RagqaError):
    """A setting has a value ragqa cannot use."""


class ReadError(RagqaError):
    """A file could not be read, or its bytes decode as nothing sensible."""


class StoreDamaged(RagqaError):
    """The document store's catalog is unreadable; restore it from a backup."""
