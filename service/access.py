"""Who may read what: the reader's groups, and which documents they let through.

A document with no groups is public. A document with groups is readable by a reader who is in
one of them. Without RAGQA_TRUSTED_GROUPS_HEADER the service does not know anyone's groups and
every document is public (`EVERYONE`), as before access control existed. With it, the reader's
groups are that header's value, set by the authenticating proxy (docs/access.md); a request
without it is a reader of public documents only.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from ragqa.ingest.model import GROUP_SEPARATOR


@dataclass(frozen=True)
class Access:
    """A reader's groups; `groups is None` means no restriction at all (no trusted header configured)."""

    groups: frozenset[str] | None = None

    @classmethod
    def of(cls, groups: Iterable[str]) -> Access:
        return cls(frozenset(g for g in groups if g))

    @classmethod
    def from_header(cls, value: str | None) -> Access:
        """The groups of a proxy header value: comma-separated names, NFC, as group files name
        them. HTTP headers arrive as Latin-1 text; UTF-8 bytes in them (财务处) are read as UTF-8."""
        text = value or ""
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            text = text.encode("latin-1").decode("utf-8")
        return cls.of(unicodedata.normalize("NFC", g.strip()) for g in GROUP_SEPARATOR.split(text))

    @property
    def unrestricted(self) -> bool:
        return self.groups is None

    def allows(self, doc_groups: Iterable[str]) -> bool:
        """Whether a document carrying `doc_groups` (empty: public) may be read."""
        needed = frozenset(doc_groups)
        return self.groups is None or not needed or bool(needed & self.groups)


EVERYONE = Access()
