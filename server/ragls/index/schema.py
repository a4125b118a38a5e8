"""The index schema — the contract between the writer and the retriever.

A *document* in Tantivy is one :class:`ragls.core.types.Chunk`: the unit being retrieved. Fields:

=========  ==========================  =====================================================
field      analysis                    purpose
=========  ==========================  =====================================================
path       raw, stored                 delete-by-path key; per-file cap; citation
body       en_stem, stored             BM25 over prose/code text; phrase proximity; snippets
text       stored bytes                the text as written, only where ``body`` differs from it
                                       (Greek letters spelled out for matching: ``core.letters``)
title      en_stem                     heading path + file name words (title/heading signal)
ident      en_stem (pre-split words)   sub-words of camelCase words and defined names: HTTPResponse -> "http response"
symbols    whitespace (lowercased      exact names defined in the chunk (``Class.method``, ``method``),
           by us)                      one space-separated value
start/end  u64, stored                 1-based inclusive line range
meta       stored bytes (JSON)         kind, language, heading tuple, symbols, doc
=========  ==========================  =====================================================

``SCHEMA_VERSION`` changes whenever fields or their analysis change; an index on disk with another
version is rebuilt, never misread.
"""

from __future__ import annotations

import tantivy

from ragls.core.letters import fold_letters

SCHEMA_VERSION = 9  # 9: secret values are redacted before indexing (core.secrets)

# Must mirror Tantivy's built-in "en_stem" tokenizer so query terms equal indexed terms.
STEM_ANALYZER = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.stemmer("english"))
    .build()
)


def analyze_as_indexed(text: str) -> list[str]:
    """The terms the ``en_stem`` fields hold for ``text``: Greek letters spelled out first, as
    ``preparation`` does before handing text to Tantivy. Every analysis on the Python side (query
    stems, feedback terms, coverage, the length floor) goes through here, so none can miss the fold."""
    return STEM_ANALYZER.analyze(fold_letters(text))


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("path", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("body", stored=True, tokenizer_name="en_stem", index_option="position")
    builder.add_bytes_field("text", stored=True, indexed=False)  # UTF-8; a text field would be indexed
    builder.add_text_field("title", stored=False, tokenizer_name="en_stem", index_option="position")
    builder.add_text_field("ident", stored=False, tokenizer_name="en_stem", index_option="freq")
    builder.add_text_field("symbols", stored=False, tokenizer_name="whitespace", index_option="basic")
    builder.add_unsigned_field("start", stored=True)
    builder.add_unsigned_field("end", stored=True)
    builder.add_bytes_field("meta", stored=True, indexed=False)
    return builder.build()


# --- Chunk <-> Tantivy document (the only place that knows the field layout) ------------------

import json  # noqa: E402  (kept next to the conversion it serves)

from ragls.core.types import Chunk  # noqa: E402
from ragls.index.preparation import PreparedChunk, prepare_chunk  # noqa: E402,F401  (re-exported)


def prepared_to_document(path: str, prepared: PreparedChunk) -> tantivy.Document:
    start, end, body, title, ident, symbols, meta, text = prepared
    doc = tantivy.Document()
    doc.add_text("path", path)
    doc.add_text("body", body)
    doc.add_text("title", title)
    doc.add_text("ident", ident)
    if symbols:
        doc.add_text("symbols", symbols)
    doc.add_unsigned("start", start)
    doc.add_unsigned("end", end)
    doc.add_bytes("meta", meta)
    if text is not None:
        doc.add_bytes("text", text.encode())
    return doc


def chunk_to_document(chunk: Chunk) -> tantivy.Document:
    return prepared_to_document(chunk.path, prepare_chunk(chunk))


def document_to_chunk(doc: tantivy.Document) -> Chunk:
    meta = json.loads(bytes(doc.get_first("meta")).decode())
    return Chunk(
        path=doc.get_first("path"),
        start_line=int(doc.get_first("start")),
        end_line=int(doc.get_first("end")),
        text=_shown_text(doc),
        kind=meta["k"],
        language=meta["l"],
        heading=tuple(meta["h"]),
        symbols=tuple(meta["s"]),
        doc=meta["d"],
    )


def _shown_text(doc: tantivy.Document) -> str:
    as_written = doc.get_first("text")
    return bytes(as_written).decode() if as_written is not None else doc.get_first("body")
