"""The one place where core types become LSP types and back.

The core speaks in 1-based inclusive lines and code point columns (``path:12-20``,
:mod:`ragls.core.lines`); LSP speaks in 0-based lines and columns counted in the negotiated position
encoding (UTF-16 unless the client and server agreed on UTF-8 or UTF-32). Nothing else in ragls
converts positions: a handler turns what it receives into core values here, works in core values,
and turns its answer back here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import quote, unquote, urlparse

from lsprotocol import types

from ragls.core.lines import Position, Span, lines_between
from ragls.core.types import Answer, Citation

UTF16 = "utf-16"


# --- lines ---------------------------------------------------------------------------------------

def to_core_line(lsp_line: int) -> int:
    """An LSP line (0-based) → a core line number (1-based)."""
    return lsp_line + 1


def to_lsp_line(core_line: int) -> int:
    """A core line number (1-based) → an LSP line (0-based); a number below 1 is the first line."""
    return max(core_line - 1, 0)


# --- columns -----------------------------------------------------------------------------------

def _units(char: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(char.encode("utf-8"))
    if encoding == "utf-32":
        return 1
    return 2 if ord(char) > 0xFFFF else 1  # UTF-16: astral code points take a surrogate pair


def column_to_codepoints(line: str, column: int, encoding: str = UTF16) -> int:
    """An LSP column (in ``encoding`` units) on ``line`` → a Python string index (code points).

    A column inside a surrogate pair or multi-byte sequence, or past the end, is clamped to the
    nearest character boundary at or before it (the LSP spec says to treat such positions as the
    end of the line / the character they fall into).
    """
    if column <= 0:
        return 0
    if encoding == "utf-32":
        return min(column, len(line))
    units = 0
    for index, char in enumerate(line):
        units += _units(char, encoding)
        if units > column:
            return index
        if units == column:
            return index + 1
    return len(line)


def codepoints_to_column(line: str, index: int, encoding: str = UTF16) -> int:
    """A Python string index on ``line`` → an LSP column in ``encoding`` units."""
    if encoding == "utf-32":
        return min(index, len(line))
    return sum(_units(char, encoding) for char in line[:index])


def line_length(line: str, encoding: str = UTF16) -> int:
    return codepoints_to_column(line, len(line), encoding)


# --- ranges ------------------------------------------------------------------------------------

def to_core_span(text: str, rng: Any, encoding: str = UTF16) -> Span | None:
    """An LSP range (anything with ``start``/``end`` positions of ``line``/``character``) in
    ``text`` → a core span. A range that runs past the end of the text stops at the end of its last
    line; None for one that starts past the end or ends before it starts."""
    first, last = to_core_line(rng.start.line), to_core_line(rng.end.line)
    # Only the lines the document has: a range may claim to end at line 2**31 - 1.
    lines = lines_between(text, first, last)
    if not lines:
        return None
    start = Position(first, column_to_codepoints(lines[0], rng.start.character, encoding))
    last_present = first + len(lines) - 1
    if last_present < last:
        return Span(start, Position(last_present, len(lines[-1])))
    return Span(start, Position(last, column_to_codepoints(lines[-1], rng.end.character, encoding)))


# --- paths and URIs ----------------------------------------------------------------------------

def path_to_uri(path: str | Path) -> str:
    return Path(os.path.abspath(path)).as_uri()


def uri_to_path(uri: str) -> Path | None:
    """The file-system path of a ``file:`` URI; None for other schemes (untitled:, git:, ...)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    if parsed.netloc and parsed.netloc != "localhost":  # UNC path
        path = f"//{parsed.netloc}{path}"
    return Path(path)


def citation_path(citation: Citation) -> Path:
    return Path(citation.root) / citation.path if citation.root else Path(citation.path)


def citation_uri(citation: Citation) -> str:
    return path_to_uri(citation_path(citation))


# --- citations -----------------------------------------------------------------------------------

LineLookup = Callable[[Path, int], "str | None"]  # (absolute path, core line number) -> text of that line


def citation_range(citation: Citation, line_of: LineLookup, encoding: str = UTF16) -> types.Range:
    """Whole lines ``start_line..end_line``: from column 0 of the first to the end of the last."""
    first = max(citation.start_line, 1)
    last = max(citation.end_line, first)
    last_text = line_of(citation_path(citation), last)
    return types.Range(
        start=types.Position(line=to_lsp_line(first), character=0),
        end=types.Position(line=to_lsp_line(last), character=line_length(last_text, encoding) if last_text is not None else 0),
    )


def citation_location(citation: Citation, line_of: LineLookup, encoding: str = UTF16) -> types.Location:
    return types.Location(uri=citation_uri(citation), range=citation_range(citation, line_of, encoding))


def _range_json(rng: types.Range) -> dict:
    return {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }


def citation_json(citation: Citation, line_of: LineLookup, encoding: str = UTF16) -> dict:
    location = citation_location(citation, line_of, encoding)
    return {
        "id": citation.id,
        "uri": location.uri,
        "range": _range_json(location.range),
        "title": citation.title,
        "snippet": citation.snippet,
    }


def citation_link(citation: Citation) -> str:
    """Markdown link that opens the cited lines: ``[docs/retry.md:12-20](file:///…/docs/retry.md#L12)``."""
    label = citation.location.replace("[", "\\[").replace("]", "\\]")
    target = citation_uri(citation) + f"#L{citation.start_line}"
    # as_uri() leaves parentheses alone, but they would end the Markdown link target early
    return f"[{label}]({quote(target, safe=':/#%@&=+$,;~!*')})"


# --- results -----------------------------------------------------------------------------------

def ask_result(
    answer: Answer,
    line_of: LineLookup,
    *,
    index_complete: bool,
    warnings: Sequence[str] = (),
    encoding: str = UTF16,
) -> dict:
    """The ``ragls/ask`` result (see docs/PROTOCOL.md)."""
    return {
        "answer": answer.text,
        "citations": [citation_json(c, line_of, encoding) for c in answer.citations],
        "abstained": answer.abstained,
        "source": answer.source,
        "indexComplete": index_complete,
        "warnings": [*answer.warnings, *warnings],
    }


def hover_markdown(answer: Answer, *, index_complete: bool = True) -> str:
    """Hover text: the short explanation, then each cited source as a link to its exact lines."""
    parts = [answer.text.strip()]
    if answer.citations:
        sources = "\n".join(
            f"- [{c.id}] {citation_link(c)}" + (f" — {c.title}" if c.title else "") for c in answer.citations
        )
        parts.append(f"**Sources**\n\n{sources}")
    if not index_complete:
        parts.append("_ragls is still indexing this workspace; this may be incomplete._")
    return "\n\n".join(p for p in parts if p)


def hover(answer: Answer, word_range: types.Range, *, index_complete: bool = True) -> types.Hover:
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=hover_markdown(answer, index_complete=index_complete)),
        range=word_range,
    )


def word_range(line_number: int, line: str, start: int, end: int, encoding: str = UTF16) -> types.Range:
    """Range of the code point columns ``start..end`` of ``line``, the text of core line ``line_number``."""
    lsp_line = to_lsp_line(line_number)
    return types.Range(
        start=types.Position(line=lsp_line, character=codepoints_to_column(line, start, encoding)),
        end=types.Position(line=lsp_line, character=codepoints_to_column(line, end, encoding)),
    )
