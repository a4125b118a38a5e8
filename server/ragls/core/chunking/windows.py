"""Cutting a run of lines into chunks: windows of at most ``max_lines``, ended where a boundary is
preferred, and the chunks they become.

Inside the chunking package a line is addressed by its index into ``split_lines(text)`` (0-based,
ranges inclusive); :func:`make_chunks` is where an index becomes a line number (1-based).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Callable, Sequence

from ragls.core.types import Chunk

Boundary = Callable[[int], bool]  # may a window end after line index e?


def paragraph_ends(lines: Sequence[str]) -> Boundary:
    """The boundary every kind of text prefers: a window ends after line ``e`` when the next line
    is blank (a paragraph break), so a paragraph is not cut in two."""
    count = len(lines)

    def ends(e: int) -> bool:
        return e + 1 < count and not lines[e + 1].strip()

    return ends


def windows(
    lines: Sequence[str], lo: int, hi: int, max_lines: int, overlap: int,
    prefer: Boundary | None = None, allowed: Boundary | None = None,
) -> list[tuple[int, int]]:
    """Cover line indexes ``lo..hi`` (inclusive) with windows of at most ``max_lines``.

    A window may end after line ``e`` when ``allowed(e)``; among those, one where ``prefer(e)``
    (a paragraph break) wins. Windows overlap by ``overlap`` lines so a sentence cut at a window
    edge is still whole in one of them.
    """
    while lo <= hi and not lines[lo].strip():
        lo += 1
    while hi >= lo and not lines[hi].strip():
        hi -= 1
    out: list[tuple[int, int]] = []
    if lo > hi:
        return out
    start = lo
    while True:
        if hi - start + 1 <= max_lines:
            out.append((start, hi))
            return out
        limit = start + max_lines - 1
        floor = start + max(max_lines // 2, 1) - 1
        end = -1
        for checker in (prefer, allowed):
            if checker is None:
                continue
            for e in range(limit, floor - 1, -1):
                if checker(e):
                    end = e
                    break
            if end >= 0:
                break
        if end < 0:
            end = limit
        out.append((start, end))
        start = max(end + 1 - overlap, start + 1)


def make_chunks(
    path: str, lines: Sequence[str], ranges: list[tuple[int, int]], kind: str, language: str,
    heading: tuple[str, ...] = (), symbols: tuple[str, ...] = (), doc: str = "",
) -> list[Chunk]:
    """Chunks for inclusive ranges of line indexes, trimmed of blank edge lines (blank-only ranges vanish)."""
    out = []
    for lo, hi in ranges:
        while lo <= hi and not lines[lo].strip():
            lo += 1
        while hi >= lo and not lines[hi].strip():
            hi -= 1
        if lo > hi:
            continue
        # Positional (in Chunk's field order, checked below): keywords cost a third more in a
        # frozen dataclass's __init__, and every chunk of every file is built here.
        out.append(Chunk(path, lo + 1, hi + 1, "\n".join(lines[lo:hi + 1]), kind, language, heading, symbols, doc))
    return out


_CHUNK_FIELDS = ("path", "start_line", "end_line", "text", "kind", "language", "heading", "symbols", "doc")
assert tuple(f.name for f in fields(Chunk)) == _CHUNK_FIELDS, "make_chunks builds Chunk positionally"
