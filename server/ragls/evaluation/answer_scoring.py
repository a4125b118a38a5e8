"""Scoring one answer against a question with expected facts (pure: plain values in, plain values out).

What a user reads is the answer, so this measures the answer, not the ranking:

- **facts**: the words a correct answer must contain, matched case- and whitespace-insensitively
  (``"40 seconds"`` matches ``40\\nSeconds``); an answer is *exact* when it holds every fact;
- **citations**: every ``[n]`` marker must name a citation of the answer, and every citation must
  point at lines that exist in its file (*validity*); an answer sentence is *supported* when the
  lines its markers cite contain the sentence's facts and most of its content words;
- **form**: sentences that repeat an earlier one, words per answer, and *unrelated* sentences: ones
  that hold no fact and share no content word with the question (a sentence that says nothing about
  what was asked, e.g. a heading's neighbour from another page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from ragls.core.letters import fold_letters
from ragls.core.query import STOPWORDS
from ragls.core.types import Answer

_MARKERS = re.compile(r"(?:\s*\[\d+\])+")
_MARKER_ID = re.compile(r"\[(\d+)\]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# A sentence is supported when at least this share of its content words occurs in what it cites:
# quoting tolerates rendered markup ("[text](url)" -> "text"); a model may paraphrase a little.
SUPPORT_WORD_SHARE = 0.6


def normalise(text: str) -> str:
    """Case- and whitespace-insensitive form used for every fact match."""
    return re.sub(r"\s+", " ", fold_letters(text)).strip().casefold()


def contains_fact(text: str, fact: str) -> bool:
    return normalise(fact) in normalise(text)


def content_words(text: str) -> set[str]:
    """Lower-cased words of at least 3 letters that carry a topic (stopwords dropped), as a crude
    stem: the first 5 letters, so "retried"/"retries" and "scheduler"/"scheduling" meet."""
    return {w.lower()[:5] for w in _WORD.findall(fold_letters(text)) if len(w) >= 3 and w.lower() not in STOPWORDS}


@dataclass(frozen=True, slots=True)
class AnswerSentence:
    text: str  # without its markers
    cites: tuple[int, ...]  # the [n] of the markers that follow it


def answer_sentences(text: str) -> list[AnswerSentence]:
    """The answer cut after each group of markers: ``"A. [1] B [1][2]. C"`` -> A (1), B (1, 2), C ()."""
    sentences: list[AnswerSentence] = []
    position = 0
    for match in _MARKERS.finditer(text):
        piece = text[position : match.start()].strip()
        ids = tuple(int(n) for n in _MARKER_ID.findall(match.group(0)))
        if piece:
            sentences.append(AnswerSentence(piece, ids))
        elif sentences:  # markers after markers: they belong to the sentence before
            last = sentences[-1]
            sentences[-1] = AnswerSentence(last.text, last.cites + ids)
        position = match.end()
    tail = text[position:].strip().lstrip(".").strip()
    if tail:
        sentences.append(AnswerSentence(tail, ()))
    return sentences


@dataclass(frozen=True, slots=True)
class AnswerScore:
    answered: bool
    facts_total: int
    facts_found: int
    gold_cited: bool
    citations: int
    citations_valid: int
    sentences: int
    sentences_supported: int
    sentences_repeated: int
    sentences_unrelated: int
    words: int
    missing_facts: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # invalid citations and unsupported sentences, for --per-query

    @property
    def exact(self) -> bool:
        return self.answered and self.facts_found == self.facts_total


# (path, root) -> the file's lines, or None when the file does not exist
LineReader = Callable[[str, str], "Sequence[str] | None"]


def score_answer(
    question: str,
    answer: Answer,
    *,
    facts: Sequence[str] = (),
    gold_paths: Sequence[str] = (),
    read_lines: LineReader,
) -> AnswerScore:
    text = answer.text
    answered = not answer.abstained
    found = [f for f in facts if answered and contains_fact(text, f)]
    problems: list[str] = []
    cited_text: dict[int, str] = {}
    valid = 0
    for citation in answer.citations:
        lines = read_lines(citation.path, citation.root)
        if lines is None:
            problems.append(f"[{citation.id}] {citation.path}: no such file")
            continue
        if not 1 <= citation.start_line <= citation.end_line <= len(lines):
            problems.append(f"[{citation.id}] {citation.location}: outside the file's {len(lines)} lines")
            continue
        valid += 1
        cited_text[citation.id] = "\n".join(lines[citation.start_line - 1 : citation.end_line])
    sentences = answer_sentences(text) if answered else []
    known_ids = {c.id for c in answer.citations}
    for sentence in sentences:
        for n in sentence.cites:
            if n not in known_ids:
                problems.append(f"[{n}] marker without a citation")
    question_words = content_words(question)
    supported = repeated = unrelated = 0
    seen: set[str] = set()
    for sentence in sentences:
        key = normalise(sentence.text)
        if key in seen:
            repeated += 1
        seen.add(key)
        sentence_facts = [f for f in facts if contains_fact(sentence.text, f)]
        words = content_words(sentence.text)
        if not sentence_facts and not (words & question_words):
            unrelated += 1
        source = "\n".join(cited_text.get(n, "") for n in sentence.cites)
        if _supported(sentence.text, sentence_facts, words, source):
            supported += 1
        else:
            problems.append(f"unsupported: {sentence.text[:80]!r} cites {list(sentence.cites) or 'nothing'}")
    gold = {g.removeprefix("./") for g in gold_paths}
    return AnswerScore(
        answered=answered,
        facts_total=len(facts),
        facts_found=len(found),
        gold_cited=answered and any(c.path in gold for c in answer.citations),
        citations=len(answer.citations),
        citations_valid=valid,
        sentences=len(sentences),
        sentences_supported=supported,
        sentences_repeated=repeated,
        sentences_unrelated=unrelated,
        words=len(_WORD.findall(_MARKERS.sub(" ", text))) if answered else 0,
        missing_facts=tuple(f for f in facts if f not in found),
        problems=tuple(problems),
    )


def _supported(sentence: str, sentence_facts: Sequence[str], words: set[str], source: str) -> bool:
    if not source.strip():
        return False
    if any(not contains_fact(source, f) for f in sentence_facts):
        return False
    if not words:
        return True
    return len(words & content_words(source)) >= SUPPORT_WORD_SHARE * len(words)
