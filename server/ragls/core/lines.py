"""Line arithmetic for the core: one convention, the one users read in ``path:12-20``.

- A line number is **1-based**; a range of lines is inclusive at both ends.
- A column is a **code point** offset into its line (a Python string index: 0 is before the first
  character, ``len(line)`` after the last).

Lines are split the way LSP counts them (``\\n``, ``\\r\\n``, ``\\r``), not with
``str.splitlines()``, which also breaks at form feeds, ``\\x85`` and ``\\u2028``: a single form
feed would shift every later citation by one line in the editor. LSP's own numbering (0-based
lines, UTF-16 columns) never reaches the core: ``ragls.lsp.convert`` turns it into these values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a text: a 1-based line and a code point column on it."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Span:
    """The text from ``start`` up to, not including, ``end``."""

    start: Position
    end: Position


def split_lines(text: str) -> list[str]:
    """The text's lines as an editor numbers them (``lines[n - 1]`` is line ``n``); a final line
    break adds no line."""
    lines = text.split("\n") if "\r" not in text else LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def normalized(text: str) -> str:
    """``text`` with every line break as ``\\n``, so offsets map to lines by counting ``\\n``."""
    return text if "\r" not in text else LINE_BREAK.sub("\n", text)


def line_at(text: str, number: int) -> str | None:
    """Line ``number`` (1-based) of ``text``; None when the text has no such line.

    A text ending in a line break has an empty line after it: the place where the cursor is after
    that break (LSP counts it too)."""
    if number < 1:
        return None
    index = number - 1
    if "\r" not in text:  # the usual case, at C speed (hover runs this on every mouse rest)
        lines = text.split("\n", index + 1)
        return lines[index] if index < len(lines) else None
    start = 0
    for _ in range(index):
        match = LINE_BREAK.search(text, start)
        if match is None:
            return None
        start = match.end()
    match = LINE_BREAK.search(text, start)
    return text[start : match.start() if match else len(text)]


def lines_between(text: str, first: int, last: int) -> list[str]:
    """Lines ``first..last`` (1-based, inclusive) of ``text``, as many of them as exist: the work is
    bounded by the text, whatever ``last`` says."""
    if first < 1 or last < first:
        return []
    if "\r" not in text:
        return text.split("\n", last)[first - 1 : last]
    return LINE_BREAK.split(text)[first - 1 : last]


def text_in(text: str, span: Span) -> str:
    """The text ``span`` covers, lines joined with ``\\n``; columns past a line's end stop at it."""
    lines = lines_between(text, span.start.line, span.end.line)
    if not lines:
        return ""
    first, last = span.start.column, span.end.column
    if len(lines) == 1:
        return lines[0][first:last]
    return "\n".join([lines[0][first:], *lines[1:-1], lines[-1][:last]])
