"""Prompt templates are files beside this module (`string.Template` syntax, `$name`).

`render(name, **values)` fills one; it raises KeyError listing every missing variable, so a
template and its caller cannot silently drift apart.
"""

from __future__ import annotations

import string
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=16)
def load(name: str) -> string.Template:
    """The template `prompts/<name>.txt`."""
    return string.Template((resources.files(__package__) / f"{name}.txt").read_text(encoding="utf-8"))


def render(name: str, **values: object) -> str:
    """Fill template `name`; KeyError names all variables the caller did not give."""
    template = load(name)
    wanted = {m.group("named") or m.group("braced") for m in template.pattern.finditer(template.template)} - {None}
    missing = sorted(str(w) for w in wanted if w not in values)
    if missing:
        raise KeyError(f"prompt {name!r} needs {', '.join(missing)}")
    return template.substitute({k: str(v) for k, v in values.items()})
