"""Checks every training target passes before it is written (pure).

A target teaches the model what ragls wants, so a wrong one teaches the wrong thing. Each must:

- follow the answer grammar for the passages in its prompt (``core.grammar.parses``): cited
  sentences ending in ``[n].``, ``n`` among the passages given, or exactly the not-covered sentence;
- carry only facts its cited passage holds: every number, flag, code span and name in a sentence,
  and its content words, occur in the passage as shown to the model (its header's label and its
  possibly trimmed window of lines — not the whole file, nor the outer headings), read as the
  grounded guard reads it (``grounding.passage_text``): a target faces the rule its answers will;
- for an abstention, have no passage in the prompt that holds the answer.
"""

from __future__ import annotations

import re
from typing import Sequence

from ragls.core.citations import cited_sentences, content_words
from ragls.core.grammar import ANSWER_BOUNDS, GrammarBounds, parses
from ragls.core.grounding import facts, holds_fact, passage_text
from ragls.core.prompting import PromptPassage

_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
# Share of a target's content words a passage must hold to count as holding its answer.
ANSWER_OVERLAP = 0.5


def render_target(sentences: Sequence[str], passage_id: int) -> str:
    """Sentences as an answer: each ends in its citation marker and a period (`` [n].``)."""
    parts = []
    for sentence in sentences:
        body = sentence.strip().rstrip(".").rstrip()
        parts.append(f"{body} [{passage_id}].")
    return " ".join(parts)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def missing_facts(sentence: str, passage: PromptPassage) -> list[str]:
    """Facts of ``sentence`` its passage does not hold (empty: supported)."""
    text = passage_text(passage)
    missing = []
    for fact in sorted(facts(sentence)):
        if not holds_fact(text, fact):  # whole tokens: "15" is not in "150"
            missing.append(fact)
    words = content_words(sentence) - content_words(text)
    missing += sorted(words)
    return missing


def visible_prefix(sentences: Sequence[str], passage: PromptPassage) -> tuple[str, ...]:
    """The leading ``sentences`` whose facts all occur in ``passage`` as shown (stops at the first
    that does not: a later sentence without the one before it reads out of context)."""
    kept = []
    for sentence in sentences:
        if missing_facts(sentence, passage):
            break
        kept.append(sentence)
    return tuple(kept)


def check_target(
    target: str, passages: Sequence[PromptPassage], *, not_covered: str, bounds: GrammarBounds = ANSWER_BOUNDS
) -> str | None:
    """None when the target may be written; otherwise why not (a short reason, counted)."""
    if not parses(target, passage_count=len(passages), not_covered=not_covered, bounds=bounds):
        return "target does not follow the answer grammar"
    if target == not_covered:
        return None
    by_id = {p.id: p for p in passages}
    for sentence in cited_sentences(target):
        if not sentence.ids or any(n not in by_id for n in sentence.ids):
            return "citation names no given passage"
        for n in sentence.ids:
            if missing_facts(sentence.text, by_id[n]):
                return "a fact is not in the cited passage"
    return None


def holds_answer(passage: PromptPassage, key: str, sentences: Sequence[str]) -> bool:
    """Whether a passage holds the answer: one of the answer's sentences as written, or the key fact
    together with most of the answer's content words (the same fact said in other words)."""
    text = passage_text(passage)
    if any(_squash(s).rstrip(".") in text for s in sentences):
        return True
    # A dotted name counts by its last part too: ``Future.get_loop`` is answered by a passage that
    # defines ``get_loop`` in the same words.
    lowered = text.lower()
    keys = {key.lower()}
    if _DOTTED.fullmatch(key):
        keys.add(key.rsplit(".", 1)[-1].lower())
    if key and not any(k in lowered for k in keys):
        return False
    wanted = set().union(*(content_words(s) for s in sentences)) - content_words(key)
    if not wanted:
        return True
    return len(wanted & content_words(text)) >= ANSWER_OVERLAP * len(wanted)
