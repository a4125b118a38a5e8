"""Which lines of a passage match a query, and a short highlighted snippet (pure)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ragls.core.letters import fold_letters

if TYPE_CHECKING:
    from ragls.core.query import QueryParts

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def match_prefix(word: str) -> str:
    """A cheap stand-in for stemming when matching words: "retries"/"retry"/"retrying" share "retr"."""
    return word[: max(4, len(word) - 2)] if len(word) > 4 else word


_prefix = match_prefix


def question_matcher(parts: "QueryParts"):
    """:func:`term_matcher` for the words and identifier sub-words of an analysed question."""
    return term_matcher([*parts.words, *parts.subwords], whole=parts.spelled_out)


def term_matcher(terms: list[str] | tuple[str, ...], whole: frozenset[str] | tuple[str, ...] = ()):
    """A predicate: does ``word`` start (case-insensitively) with the prefix of a query term?

    Terms in ``whole`` match whole words only: Greek letters spelled out (``π`` -> "pi",
    ``QueryParts.spelled_out``) are symbols, and "pi" must not light up "pipeline".

    One compiled alternation instead of a Python ``startswith`` per prefix: this runs for every
    word of every passage shown (hover, snippets), and long one-line passages made the loop the
    slowest part of presenting a search.
    """
    exact = frozenset(t.lower() for t in whole)
    prefixes = sorted({_prefix(t.lower()) for t in terms if t and t.lower() not in exact}, key=len, reverse=True)
    if not prefixes and not exact:
        return lambda word: False
    match = re.compile("|".join(map(re.escape, prefixes))).match if prefixes else None

    def matches(word: str) -> bool:
        folded = fold_letters(word).lower()  # query words are folded (core.query)
        return folded in exact or (match is not None and match(folded) is not None)

    return matches


def _highlight(line: str, matches) -> str:
    return _WORD.sub(lambda m: f"**{m.group(0)}**" if matches(m.group(0)) else m.group(0), line)


def snippet_and_lines(text: str, start_line: int, matches, *, max_lines: int = 4, width: int = 200) -> tuple[str, tuple[int, ...]]:
    """A passage's snippet — its densest window of ``max_lines`` lines, matched words in **bold**,
    long lines trimmed to ``width`` — and the 1-based file lines of the passage that hold a match,
    in one pass; ``matches`` is built once per query (``term_matcher``)."""
    lines = text.split("\n")
    counts = [sum(1 for w in _WORD.findall(line) if matches(w)) for line in lines]
    best_start, best = 0, -1
    for i in range(max(1, len(lines) - max_lines + 1)):
        score = sum(counts[i : i + max_lines])
        if score > best:
            best_start, best = i, score
    window = [line.rstrip()[:width] for line in lines[best_start : best_start + max_lines]]
    while window and not window[-1].strip():
        window.pop()
    snippet = "\n".join(_highlight(line, matches) for line in window)
    return snippet, tuple(start_line + i for i, count in enumerate(counts) if count)
