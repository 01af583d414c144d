"""The compiled index of a vocabulary file, kept on disk so that rdflib parses a file only once.

Parsing the 4 MB GCMD and GEMET dumps takes seconds; decoding their compiled ``Vocabulary`` takes
milliseconds. A cache entry is named by the sha256 of the file's bytes (and the index format), so an
edited or replaced file is parsed again and an unchanged one never is, wherever it lives.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import msgspec

from thesaurus import skos

# Bump when ``skos.Vocabulary`` or what ``skos.parse`` puts in it changes: old entries are then ignored.
INDEX_FORMAT = 1

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(skos.Vocabulary)


def entry_path(cache_dir: Path, data: bytes) -> Path:
    """Where the compiled index of a file with these bytes is kept."""
    return cache_dir / f"{hashlib.sha256(data).hexdigest()}.v{INDEX_FORMAT}.msgpack"


def load_vocabulary(path: Path, cache_dir: Path | None = None) -> skos.Vocabulary:
    """The vocabulary in ``path``: from the cache when it holds this file's bytes, else parsed (and
    stored in the cache when there is one). A damaged cache entry is parsed again, not trusted."""
    data = path.read_bytes()
    if cache_dir is None:
        return skos.parse(data, path.name)
    entry = entry_path(cache_dir, data)
    try:
        vocabulary = _decoder.decode(entry.read_bytes())
    except (OSError, msgspec.DecodeError):
        vocabulary = skos.parse(data, path.name)
        _write(entry, _encoder.encode(vocabulary))
        return vocabulary
    # The same bytes may have been cached under another file name.
    return msgspec.structs.replace(vocabulary, source=path.name)


def _write(entry: Path, content: bytes) -> None:
    """Write atomically: harvests running side by side never read half an entry."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=entry.name, suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the entry from a server run by another user
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(tmp, entry)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
