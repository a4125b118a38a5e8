"""After-the-fact checks of the citations in generated text.

The grammar already makes ``[n]`` markers well formed and limits ``n`` to the passages given, but
a remote endpoint may ignore the grammar, and a well-formed citation can still be beside the point.
So every answer is checked here:

- each ``[n]`` must name a passage that was given (otherwise: a warning, and it is not mapped);
- a sentence that cites a passage sharing no content word with it is flagged (a warning).

The cited passages become :class:`~ragls.core.types.Citation` objects with their exact lines.
Pure: no model, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from ragls.core.identifiers import subword_tokens
from ragls.core.types import Citation

if TYPE_CHECKING:  # an annotation only: prompting imports this module (question_terms)
    from ragls.core.prompting import PromptPassage

_MARKER = re.compile(r"\[(\d+)\]")
# A cited sentence ends after its markers (and period); text after the last marker is one uncited
# sentence. Splitting only at markers keeps "e.g. foo [1]." together.
_SENTENCE = re.compile(r".*?(?:(?:\[\d+\])+\.?|\Z)", re.DOTALL)

# Words too common to show that a sentence and a passage are about the same thing.
_STOPWORDS = frozenset(
    """a an and are as at be been being but by can could did do does for from had has have how i if in
    into is it its itself may might must no not of on or our shall should so such than that the their
    them then there these they this those to too under up use used uses using via was we were what when
    where which while who why will with would you your also only each other more most some any all both
    one two get set see just like new""".split()
)


@dataclass(frozen=True, slots=True)
class CitedSentence:
    text: str  # the sentence without its markers
    ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CitationCheck:
    citations: tuple[Citation, ...]  # cited passages that exist, ordered by id
    unknown_ids: tuple[int, ...]  # markers naming no given passage
    unsupported: tuple[tuple[int, int], ...]  # (sentence index, passage id) sharing no content word
    warnings: tuple[str, ...]


def _normalise(word: str) -> str:
    """A crude stem: enough to match 'retries'/'retry', 'configured'/'configure'."""
    for suffix in ("ies", "es", "ing", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def content_words(text: str) -> set[str]:
    """Lower-cased, crudely stemmed sub-words of ``text`` without stopwords and one-letter noise."""
    return {_normalise(w) for w in subword_tokens(text) if len(w) > 1 and w not in _STOPWORDS and not w.isdigit()}


def cited_sentences(text: str) -> list[CitedSentence]:
    """Split generated text into sentences with the markers each one carries."""
    sentences = []
    for match in _SENTENCE.finditer(text):
        raw = match.group(0)
        if not raw.strip():
            continue
        ids = tuple(int(n) for n in _MARKER.findall(raw))
        bare = re.sub(r"\s+\.$", ".", _MARKER.sub("", raw).strip())
        sentences.append(CitedSentence(text=bare, ids=ids))
    return sentences


def check_citations(text: str, passages: Sequence[PromptPassage]) -> CitationCheck:
    """Map the ``[n]`` markers of ``text`` to ``passages`` and flag the doubtful ones."""
    by_id = {p.id: p for p in passages}
    passage_words = {p.id: content_words(f"{p.title}\n{p.hit.chunk.path}\n{p.text}") for p in passages}
    cited: set[int] = set()
    unknown: list[int] = []
    unsupported: list[tuple[int, int]] = []
    warnings: list[str] = []
    for index, sentence in enumerate(cited_sentences(text)):
        words = content_words(sentence.text)
        for n in sentence.ids:
            if n not in by_id:
                if n not in unknown:
                    unknown.append(n)
                    warnings.append(f"citation [{n}] names no given passage (there were {len(passages)}); ignored")
                continue
            cited.add(n)
            if words and not (words & passage_words[n]):
                unsupported.append((index, n))
                excerpt = sentence.text if len(sentence.text) <= 60 else sentence.text[:57] + "..."
                warnings.append(
                    f"sentence {index + 1} ({excerpt!r}) cites [{n}] {by_id[n].citation().location}, "
                    f"which shares no content word with it"
                )
    return CitationCheck(
        citations=tuple(by_id[n].citation() for n in sorted(cited)),
        unknown_ids=tuple(unknown),
        unsupported=tuple(unsupported),
        warnings=tuple(warnings),
    )
