"""Errors of the index layer."""

from __future__ import annotations

from ragqa.ingest.errors import RagqaError


class IndexUnavailable(RagqaError):
    """An index folder is missing, incomplete, or incompatible with this build."""
