"""Split a document into retrievable chunks with exact, 1-based inclusive line ranges.

Pure: no I/O. The one invariant everything else relies on (citations, snippets, the index):
``chunk.text == "\\n".join(split_lines(text)[chunk.start_line - 1 : chunk.end_line])``, with
lines split the way LSP counts them (:func:`ragls.core.lines.split_lines`).

Prose is split at headings (each chunk carries its heading path); code at definitions (each chunk
carries the names it defines), found by a line scanner, not a parser. One module per concern:

- ``kinds``: which files are indexed, as what kind and language (:func:`language_for`);
- ``windows``: a run of lines cut into windows of at most ``max_lines``, ended at a preferred
  boundary (``paragraph_ends``), and turned into chunks;
- ``prose``: Markdown / reStructuredText / AsciiDoc sections, plain-text paragraphs;
- ``syntax``: the table of what the scanner knows per language family, with its docstring hooks;
- ``code``: the scanner and the packing of definitions into chunks.
"""

from __future__ import annotations

from ragls.core.chunking.code import chunk_code
from ragls.core.chunking.kinds import language_for
from ragls.core.chunking.prose import chunk_prose
from ragls.core.lines import split_lines
from ragls.core.types import Chunk

__all__ = ["language_for", "chunk_document", "split_lines"]


def chunk_document(path: str, text: str, *, max_lines: int = 60, overlap: int = 5) -> list[Chunk]:
    """Chunks of one file; [] for an empty or whitespace-only file, and a file of no known kind
    is chunked as plain text. Never raises on any text (a malformed document degrades to window
    chunks)."""
    if max_lines < 1:
        raise ValueError("max_lines must be at least 1")
    overlap = max(0, min(overlap, max_lines // 2 - 1))
    if not text.strip():
        return []
    kind, language = language_for(path) or ("text", "")
    lines = split_lines(text)
    if kind == "code":
        return chunk_code(path, text, lines, language, max_lines, overlap)
    return chunk_prose(path, lines, kind, max_lines, overlap)
