"""Per-request specialisation of the GBNF output grammars, and a Python mirror of the same language.

The grammar templates live in ``grammars/*.gbnf`` with ``{{HOLE}}`` placeholders. For each request
:func:`specialise` fills them so that the only citation markers the model can produce are ``[1]``
to ``[k]`` for the ``k`` passages in the prompt. :func:`answer_pattern` builds a regular expression
for exactly the same language, so generated text can be checked after the fact (and tests can check
that 100% of sampled outputs parse) without trusting the sampler.

Pure: templates and texts come in as strings; nothing here reads files or imports llama.cpp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HOLE = re.compile(r"\{\{([A-Z_]+)\}\}")

# Same character classes as ``wordchar`` / ``wordend`` in the templates: printable, not space, not
# a bracket; a word's last character is no sentence end either.
_WORD_CHAR = r"[^\x00-\x20\x7f\[\]]"
_WORD_END = r"[^\x00-\x20\x7f\[\].!?]"
_LAST_END = r"[^\x00-\x20\x7f\[\].!?:;,]"  # the word before the citation markers


class GrammarTemplateError(ValueError):
    """A grammar template has a hole nobody fills, or a value is out of range."""


@dataclass(frozen=True, slots=True)
class GrammarBounds:
    """Shape limits of an answer. They keep a sentence from running on without a citation."""

    max_sentences: int = 12
    max_words: int = 48  # per sentence
    max_word_chars: int = 40
    max_cites: int = 4  # markers at the end of one sentence
    separators: tuple[str, ...] = (" ", "\n", "\n\n")  # between sentences (answer.gbnf)
    min_words: int = 1  # per sentence

    def __post_init__(self) -> None:
        for name in ("max_sentences", "max_words", "max_word_chars", "max_cites", "min_words"):
            if getattr(self, name) < 1:
                raise GrammarTemplateError(f"grammar bound {name} must be at least 1")
        if self.min_words > self.max_words:
            raise GrammarTemplateError("grammar bound min_words must not exceed max_words")


# An ask answer is a few sentences, not an essay: past four, a 135M model mostly restates what it
# said (or loops), and every sentence costs ~0.5 s on a CPU. A bound in the grammar ends generation
# even when the model never would (measured: docs/BENCHMARKS.md, "Answer form").
# At least three words: "The [1]." is what a small model writes when it has nothing left to say.
ANSWER_BOUNDS = GrammarBounds(max_sentences=4, max_words=40, min_words=3)
HOVER_BOUNDS = GrammarBounds(max_sentences=2, max_words=24, max_word_chars=32, max_cites=2, separators=(" ",), min_words=3)


def gbnf_literal(text: str) -> str:
    """``text`` as a double-quoted GBNF string literal."""
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def specialise(template: str, *, passage_count: int, not_covered: str, bounds: GrammarBounds = ANSWER_BOUNDS) -> str:
    """Fill the holes of a grammar template for a request with ``passage_count`` passages.

    With no passages only the "not covered" sentence is possible (the ``answer`` rule is dropped
    from ``root``, since a citation rule with no alternatives is not valid GBNF).
    """
    if passage_count < 0:
        raise GrammarTemplateError("passage_count must be >= 0")
    if not not_covered.strip():
        raise GrammarTemplateError("the not-covered sentence is empty")
    if passage_count == 0:
        return f"root ::= {gbnf_literal(not_covered)}\n"
    values = {
        "MORE_SENTENCES": str(bounds.max_sentences - 1),
        "MORE_WORDS": str(bounds.max_words - 1),
        "MIN_MORE_WORDS": str(bounds.min_words - 1),
        "WORD_CHARS": str(bounds.max_word_chars),
        "MORE_WORD_CHARS": str(bounds.max_word_chars - 1),
        "MAX_CITES": str(bounds.max_cites),
        "PASSAGE_IDS": " | ".join(gbnf_literal(str(n)) for n in range(1, passage_count + 1)),
        "NOT_COVERED": gbnf_literal(not_covered),
    }

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise GrammarTemplateError(f"grammar template has an unknown hole {{{{{name}}}}}")
        return values[name]

    return _HOLE.sub(fill, template)


def answer_pattern(
    *, passage_count: int, not_covered: str, bounds: GrammarBounds = ANSWER_BOUNDS
) -> re.Pattern[str]:
    """A regex for exactly the language of the specialised answer/hover grammar (use ``fullmatch``)."""
    alternatives = [re.escape(not_covered)]
    if passage_count > 0:
        ids = "|".join(str(n) for n in range(passage_count, 0, -1))  # longest first: 10 before 1
        word = f"{_WORD_CHAR}{{0,{bounds.max_word_chars - 1}}}{_WORD_END}"
        last = f"{_WORD_CHAR}{{0,{bounds.max_word_chars - 1}}}{_LAST_END}"
        more = f"{{{bounds.min_words - 1},{bounds.max_words - 1}}}"
        sentence = rf"(?:{word} ){more}{last} ?(?:\[(?:{ids})\]){{1,{bounds.max_cites}}}\."
        sep = "|".join(re.escape(s) for s in sorted(bounds.separators, key=len, reverse=True))
        alternatives.append(rf"{sentence}(?:(?:{sep}){sentence}){{0,{bounds.max_sentences - 1}}}")
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


def parses(text: str, *, passage_count: int, not_covered: str, bounds: GrammarBounds = ANSWER_BOUNDS) -> bool:
    """True when ``text`` is a complete answer the specialised grammar accepts."""
    pattern = answer_pattern(passage_count=passage_count, not_covered=not_covered, bounds=bounds)
    return pattern.fullmatch(text) is not None


_SENTENCE_END = re.compile(r"(?:\[\d+\])+\.")


def complete_prefix(text: str) -> str:
    """The text up to the end of its last complete cited sentence (``...[n].``), or ``""``.

    Used when generation stops early (max_tokens, cancel): the grammar guarantees every prefix is
    the start of a valid answer, so cutting at a sentence end gives a valid, shorter answer.
    """
    last = None
    for last in _SENTENCE_END.finditer(text):
        pass
    return text[: last.end()] if last else ""


_MARKER_RUN = re.compile(r"(?:\[\d+\])+")


def tidy_markers(text: str) -> str:
    """Each run of citation markers with its repeats left out: ``[1][2][1]`` → ``[1][2]``, and
    no period just before them: ``json. [1].`` → ``json [1].``.

    The grammar allows up to ``max_cites`` markers per sentence but cannot say "each once"; a
    small model does name a passage twice.
    """

    def tidy(match: re.Match[str]) -> str:
        seen: list[str] = []
        for marker in re.findall(r"\[\d+\]", match.group(0)):
            if marker not in seen:
                seen.append(marker)
        return "".join(seen)

    # "... `metrics.json`. [1]." — a period before the markers reads as an uncited sentence: the
    # markers belong to it, so they go before its one period.
    return _PERIOD_BEFORE_MARKERS.sub(r" \1", _MARKER_RUN.sub(tidy, text))


_PERIOD_BEFORE_MARKERS = re.compile(r"[.!?]+ ?((?:\[\d+\])+\.)")
