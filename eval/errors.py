"""Errors raised by the eval package.

Every message is one line that names what went wrong and what to do next.
EvalError derives from the project's RagqaError, so the CLI's one handler
prints it and exits non-zero::

    RagqaError (ragqa.ingest.errors)
     └── EvalError              base of the eval package's errors
          ├── GoldError         gold file unreadable, or no valid item after validation
          ├── AskerError        the service or pipeline failed, or broke the v1 contract
          │    └── DocumentNotFound   the service does not know the document asked for
          ├── BaselineError     the --baseline run.json cannot be read
          └── ReportError       the report folder cannot be written
"""

from __future__ import annotations

from ragqa.ingest.errors import RagqaError


class EvalError(RagqaError):
    """Base class of every error the eval package raises on purpose."""


class GoldError(EvalError):
    """The gold file cannot be used at all (individual bad lines are GoldProblems, not errors)."""


class AskerError(EvalError):
    """A call to the service or the in-process pipeline failed after any retries."""


class DocumentNotFound(AskerError):
    """The service answered 404 for a document, or the index does not list it."""


class BaselineError(EvalError):
    """The baseline run.json is missing, is not JSON, or lacks the fields a comparison needs."""


class ReportError(EvalError):
    """The report folder or one of its files cannot be written."""
