"""jieba's two dictionaries, loaded from one file in a third of the time, with the same contents.

jieba starts by reading its prefix dictionary (`Tokenizer.FREQ`: the 349k words of dict.txt with
their counts and every prefix of them with 0, 498k keys) from its marshal cache, which builds
the dict one object at a time (~0.5 s); and `import jieba.posseg` parses dict.txt again for the
part-of-speech tag of each word (`POSTokenizer.word_tag_tab`, ~0.4 s). Here both are kept as a
few long strings and arrays in one marshal file and rebuilt with `str.split` and
`dict(zip(...))`, ~0.25 s for the two (measured on a 2-core machine). The words share their
key strings with the prefix dictionary, and the tags are ~60 shared strings.

The file is written from what jieba itself loaded, the first time (so its contents are jieba's by
construction); it is named by jieba's version and dict.txt's size and mtime, and one that does
not match or cannot be read is written again. tests/test_jiebadict.py compares the dicts and
the tokens with jieba's own.
"""

from __future__ import annotations

import importlib
import io
import marshal
import os
import sys
from array import array
from operator import itemgetter
from pathlib import Path

import jieba

FORMAT = 1
Tables = tuple[dict[str, int], int, dict[str, str]]


def _dict_file() -> Path:
    return Path(jieba.__file__).with_name(jieba.DEFAULT_DICT_NAME)


def table_path(cache_dir: Path) -> Path:
    """Where the tables of the installed jieba's default dictionary live in `cache_dir`."""
    stat = _dict_file().stat()
    return cache_dir / f"jieba-{jieba.__version__}-{stat.st_size}-{stat.st_mtime_ns}.v{FORMAT}.tables"


def install(cache_dir: Path) -> None:
    """Initialise `jieba.dt` and import `jieba.posseg` with the default dictionary, from the
    tables in `cache_dir` when they are there, else by jieba's own loading (then saved there).
    A tokenizer jieba already initialised, or a custom dictionary, is left to jieba."""
    if jieba.dt.initialized or jieba.dt.dictionary != jieba.DEFAULT_DICT:
        jieba.initialize()
        return
    path = table_path(cache_dir)
    tables = read_tables(path)
    if tables is None:
        jieba.initialize()
        posseg = importlib.import_module("jieba.posseg")
        save_tables(path, jieba.dt.FREQ, jieba.dt.total, posseg.dt.word_tag_tab)
        return
    freq, total, word_tags = tables
    with jieba.dt.lock:
        if not jieba.dt.initialized:
            jieba.dt.FREQ, jieba.dt.total, jieba.dt.initialized = freq, total, True
    _import_posseg(word_tags)


def _import_posseg(word_tags: dict[str, str]) -> None:
    """Import jieba.posseg with `word_tags` as its tag table. Its import builds the table from
    `jieba.dt.get_dict_file()`, which is pointed at an empty file for that moment."""
    if "jieba.posseg" in sys.modules:
        return  # imported earlier: it has parsed dict.txt already
    jieba.dt.get_dict_file = lambda: io.BytesIO()
    try:
        posseg = importlib.import_module("jieba.posseg")
    finally:
        del jieba.dt.get_dict_file
    posseg.dt.word_tag_tab = word_tags


def save_tables(path: Path, freq: dict[str, int], total: int, word_tags: dict[str, str]) -> bool:
    """Write the tables to `path` (atomically); False, and nothing written, when a word of
    `word_tags` is not a key of `freq` or a key holds a newline, or the folder is not writable."""
    position = {key: i for i, key in enumerate(freq)}
    if any("\n" in key for key in position) or any(word not in position for word in word_tags):
        return False
    tag_names = sorted(set(word_tags.values()))
    tag_id = {tag: i for i, tag in enumerate(tag_names)}
    data = (
        FORMAT,
        "\n".join(freq),
        array("q", freq.values()).tobytes(),
        total,
        array("I", (position[word] for word in word_tags)).tobytes(),
        "\n".join(tag_names),
        array("H", (tag_id[tag] for tag in word_tags.values())).tobytes(),
    )
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as f:
            marshal.dump(data, f)
        partial.replace(path)
    except OSError:
        partial.unlink(missing_ok=True)
        return False
    return True


def read_tables(path: Path) -> Tables | None:
    """(FREQ, total, word_tag_tab) from `path`; None when it is missing, damaged or of another format."""
    try:
        with path.open("rb") as f:
            version, keys_text, freq_bytes, total, word_bytes, tags_text, tag_bytes = marshal.load(f)
        if version != FORMAT:
            return None
        keys = keys_text.split("\n")
        counts, words, tag_ids = array("q"), array("I"), array("H")
        counts.frombytes(freq_bytes)
        words.frombytes(word_bytes)
        tag_ids.frombytes(tag_bytes)
        tags = tags_text.split("\n")
        word_keys = itemgetter(*words)(keys) if len(words) > 1 else [keys[i] for i in words]
        freq = dict(zip(keys, counts.tolist(), strict=True))
        return freq, int(total), dict(zip(word_keys, map(tags.__getitem__, tag_ids), strict=True))
    except FileNotFoundError:
        return None
    except (OSError, EOFError, ValueError, TypeError, IndexError):
        path.unlink(missing_ok=True)
        return None
