"""Everything indexing does in Python before Tantivy: read, hash, chunk, and turn each chunk into
plain field values. Runs in worker processes, so it imports no Tantivy and returns only picklable
values; the single index writer turns them into documents (``schema.prepared_to_document``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from typing import NamedTuple

from ragls.core.chunking import chunk_document, language_for
from ragls.core.identifiers import camel_subwords, split_identifier, subword_tokens
from ragls.core.letters import fold_letters
from ragls.core.secrets import redact_secrets
from ragls.core.types import Chunk


def title_text(chunk: Chunk) -> str:
    """Heading path plus the words of the file name: ``docs/retry-policy.md`` -> ``retry policy``."""
    return fold_letters(" ".join([*chunk.heading, _file_name_words(chunk.path)]))


@functools.lru_cache(maxsize=64)  # every chunk of a file asks for the same path
def _file_name_words(path: str) -> str:
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return " ".join(split_identifier(stem))


def symbol_terms(symbols: tuple[str, ...]) -> list[str]:
    """Exact-match terms for defined names: the qualified name and its last component, lowercased
    (Greek letters spelled out, as queries have them: ``σ_max`` -> ``sigma_max``)."""
    terms: set[str] = set()
    for name in symbols:
        lowered = fold_letters(name).lower()
        last = lowered.rsplit(".", 1)[-1]
        # Also without underscores, so "http response" and "http_response" find HTTPResponse.
        terms.update((lowered, last, last.replace("_", "")))
    return sorted(terms)


# The symbols field is one whitespace-separated value (one Tantivy value per name cost a value's
# set-up each: ~100k names in the standard library). A term with whitespace in it (a TOML table
# ``[a b]``) can never be asked for — query symbols are identifiers, which hold none — so it is
# left out rather than split into words that were never defined.
_WHITESPACE = re.compile(r"\s")


def symbols_text(symbols: tuple[str, ...]) -> str:
    """The ``symbols`` field value: the exact-match terms of the defined names, space-separated."""
    if not symbols:
        return ""
    terms = symbol_terms(symbols)
    if not _WHITESPACE.search("".join(symbols)):  # nearly always: one check for all names
        return " ".join(terms)
    return " ".join(t for t in terms if not _WHITESPACE.search(t))


class PreparedChunk(NamedTuple):
    """Everything a document needs, as plain picklable values: worker processes prepare these (the
    Python-heavy part of indexing) and the single writer turns them into Tantivy documents
    (``schema.prepared_to_document``)."""

    start_line: int
    end_line: int
    body: str  # the chunk's text, Greek letters spelled out for matching (``core.letters``)
    title: str  # ``title_text``
    ident: str  # sub-words of the names in the text and of the defined symbols
    symbols: str  # ``symbols_text``
    meta: bytes  # ``meta_json``
    text: str | None  # None when ``body`` is the chunk's text as written (nearly always); else what is shown

# JSON string escaping in C, as json.dumps(..., ensure_ascii=False) does it. The meta object is
# assembled around it by hand: the encoder's per-call set-up costs more than encoding one small
# object, and this runs once per chunk. Same bytes as json.dumps (tested).
_json_str = json.encoder.encode_basestring


def meta_json(chunk: Chunk) -> bytes:
    """The stored meta of a chunk, exactly ``json.dumps({"k", "l", "h", "s", "d"}).encode()``."""
    return (
        '{"k": %s, "l": %s, "h": [%s], "s": [%s], "d": %s}'
        % (
            _json_str(chunk.kind),
            _json_str(chunk.language),
            ", ".join(map(_json_str, chunk.heading)),
            ", ".join(map(_json_str, chunk.symbols)),
            _json_str(chunk.doc),
        )
    ).encode()


@functools.lru_cache(maxsize=65536)  # class and method names repeat across a codebase
def _name_part_subwords(part: str) -> tuple[str, ...]:
    # Most names are lower-case snake_case (``send_request``, ``__init__``): their sub-words are the
    # pieces between underscores. A codebase has ~100k distinct names, so most calls miss the cache,
    # and the general regex split costs ~3 us each (same result: tested).
    letters = part.replace("_", "")
    if letters.isalpha() and letters.islower() and letters.isascii():
        return tuple(piece for piece in part.split("_") if piece)
    return tuple(subword_tokens(part))


def symbol_subwords(symbols: tuple[str, ...]) -> list[str]:
    """``subword_tokens(" ".join(symbols))``, cached per dotted component (a dot or space never
    sits inside a word, so splitting there first changes nothing)."""
    return [token for name in symbols for part in name.split(".") for token in _name_part_subwords(part)]


def prepare_chunk(chunk: Chunk) -> PreparedChunk:
    symbols = chunk.symbols
    ident = camel_subwords(chunk.text)
    if symbols:
        ident += symbol_subwords(symbols)
    body = fold_letters(chunk.text)
    return PreparedChunk(
        chunk.start_line,
        chunk.end_line,
        body,
        title_text(chunk),
        fold_letters(" ".join(ident)),  # sub-words of names like σ_max hold Greek letters
        symbols_text(symbols),
        meta_json(chunk),
        None if body is chunk.text else chunk.text,
    )


@dataclass(frozen=True, slots=True)
class PreparedFile:
    size: int  # bytes read
    digest: str | None
    chunks: list[PreparedChunk] | None  # None when the content hash is unchanged
    error: str | None = None
    redacted: int = 0  # secret values replaced before chunking (core.secrets)


def prepare_file(rel: str, abs_path: str, known_hash: str | None) -> PreparedFile:
    """Read, hash, chunk and prepare one file (runs in worker processes; must stay picklable)."""
    try:
        with open(abs_path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return PreparedFile(0, None, None, error=str(exc))
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    if digest == known_hash:
        return PreparedFile(len(data), digest, None)
    text, redacted = redact_file_text(rel, decode_text(data))
    chunks = [prepare_chunk(chunk) for chunk in chunk_document(rel, text)]
    return PreparedFile(len(data), digest, chunks, redacted=redacted)


def redact_file_text(rel: str, text: str) -> tuple[str, int]:
    """``text`` of the file ``rel`` with its secret values redacted: what the index holds, for files
    and editor buffers alike."""
    return redact_secrets(text, (language_for(rel) or ("", ""))[1])


def prepare_batch(jobs: list[tuple[str, str, str | None]]) -> list[PreparedFile]:
    """``prepare_file`` for several files: one round trip to a worker process for all of them."""
    return [prepare_file(*job) for job in jobs]


def decode_text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")
