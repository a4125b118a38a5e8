"""The grounded guard: a model sentence its cited passages do not support never reaches the user.

The grammar makes every citation well formed and point at a given passage; it cannot make the
sentence true to that passage. A small model writes "The lease is valid for 2s [1]." over a
passage that says 15s. So every complete sentence of a model answer is checked before it is
shown, and kept only when its cited passages (as the model saw them) hold

- every fact it asserts: numbers, flags, code spans and dotted/snake/camel names, as whole tokens
  ("15" is not in "150"); and
- at least :data:`SUPPORT_SHARE` of its content words (a model may paraphrase a little, it may not
  write about something else).

Streaming follows the same rule (:class:`GroundedStream`): text is released one checked sentence
at a time, so a client never shows a sentence the guard later removes. A sentence, once released,
stays in the final answer.

Pure: no model, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from ragls.core import loops
from ragls.core.citations import content_words
from ragls.core.extractive import clean_inline
from ragls.core.grammar import complete_prefix, tidy_markers
from ragls.core.prompting import PromptPassage

# Share of a sentence's content words its cited passages must hold. Lower lets paraphrase through
# but also sentences about something else; higher removes faithful rewordings. Half is the rule
# the training targets are held to (training/checks.py), so what fine-tuning teaches passes it.
SUPPORT_SHARE = 0.5

_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_FLAG = re.compile(r"(?<![\w\-])--?[a-zA-Z][\w\-]*")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_NAME = re.compile(r"\b[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+\b|\b[a-z]+_[\w]+\b|\b[a-z]+[A-Z]\w*\b")
_MARKER = re.compile(r"\[(\d+)\]")
# Words a small model wraps an echo in ("Question: ...", "The answer to this question is ...").
_META_WORDS = frozenset({"question", "answer"})


def facts(sentence: str) -> set[str]:
    """The exact tokens a sentence asserts: numbers, flags, code spans, dotted/snake/camel names."""
    found = set(_NUMBER.findall(sentence)) | set(_FLAG.findall(sentence)) | set(_NAME.findall(sentence))
    found |= {span.strip() for span in _CODE_SPAN.findall(sentence) if span.strip()}
    return {f for f in found if f.strip("-")}


def holds_fact(text: str, fact: str) -> bool:
    """Whether ``fact`` occurs in ``text`` as a whole token: a number not inside a longer number,
    a name not inside a longer name."""
    before, after = (r"(?<![\w.])", r"(?![\d])") if fact[0].isdigit() else (r"(?<!\w)", r"(?!\w)")
    return re.search(rf"{before}{re.escape(fact)}{after}", text) is not None


def passage_text(passage: PromptPassage) -> str:
    """What the model was shown of a passage, raw and with inline markup cleaned (a model may
    write either): its header's label (the innermost heading, or the code's names) and its lines.
    Not the ``[n]`` marker (a number no passage states), and not the outer headings the user's
    citation names: a sentence whose support the model never saw was not grounded by it."""
    raw = f"{passage.label}\n{passage.text}"
    return re.sub(r"\s+", " ", raw).strip() + "\n" + clean_inline(raw)


def unsupported_reason(sentence: str, cited: Sequence[PromptPassage], question: str = "") -> str | None:
    """None when ``cited`` supports ``sentence`` (markers already removed); otherwise why not.

    Besides support, a sentence must say something: one with no content word ("This is a [3].")
    or none beyond the question's ("Question: How does a Pod pick its scheduler [1].", a small
    model's echo) is removed too — its passage "supports" it only because retrieval found the
    question's words there."""
    if not cited:
        return "cites no passage"
    source = "\n".join(passage_text(p) for p in cited)
    asserted = facts(sentence)
    missing = sorted(f for f in asserted if not holds_fact(source, f))
    if missing:
        return f"{', '.join(missing[:3])} not in the cited passage"
    words = content_words(sentence)
    if not words and not asserted:
        return "says nothing"
    if question and words - _META_WORDS <= content_words(question) and asserted <= facts(question):
        return "only restates the question"
    if words:
        held = len(words & content_words(source))
        if held < SUPPORT_SHARE * len(words):
            return f"only {held} of its {len(words)} content words are in the cited passage"
    return None


@dataclass(frozen=True, slots=True)
class RemovedSentence:
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Grounded:
    sentences: tuple[str, ...]  # kept sentences, each with its markers ("... [1].")
    removed: tuple[RemovedSentence, ...]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    def warning(self) -> str | None:
        if not self.removed:
            return None
        shown = "; ".join(f"{r.text[:60]!r} ({r.reason})" for r in self.removed[:3])
        count = len(self.removed)
        return f"removed {count} model sentence{'s' if count != 1 else ''} that the cited passages do not support: {shown}"


def _bare(sentence: str) -> str:
    return re.sub(r"\s+\.$", ".", _MARKER.sub("", sentence).strip())


def ground(text: str, passages: Sequence[PromptPassage], *, not_covered: str, question: str = "") -> Grounded:
    """The complete cited sentences of ``text`` that their passages support, in order.

    ``text`` is a cleaned model answer (repetition cut, markers tidied). The not-covered sentence
    is not a claim about a passage: it is kept as it is when it is the whole answer, and dropped
    from among real sentences (the host already does both; repeated here so the rule is whole).
    """
    by_id = {p.id: p for p in passages}
    kept: list[str] = []
    removed: list[RemovedSentence] = []
    target = loops.normalised_sentence(not_covered)
    for start, end in loops.sentence_spans(text):
        sentence = text[start:end]
        if loops.normalised_sentence(sentence) == target:
            continue
        cited = [by_id[int(n)] for n in dict.fromkeys(_MARKER.findall(sentence)) if int(n) in by_id]
        reason = unsupported_reason(_bare(sentence), cited, question)
        if reason is None:
            kept.append(sentence)
        else:
            removed.append(RemovedSentence(text=_bare(sentence), reason=reason))
    return Grounded(sentences=tuple(kept), removed=tuple(removed))


class GroundedStream:
    """Releases streamed model text one checked sentence at a time.

    ``feed`` takes raw deltas as they come; each time a cited sentence completes, the text so far
    is cleaned the way the final answer is (repetition cut, markers tidied) and grounded, and the
    newly kept sentences are passed to ``emit``. ``finish`` reconciles with the final answer: it
    returns the final sentences, which always begin with everything already released (a released
    sentence was supported; it is never taken back), and emits the rest.
    """

    def __init__(
        self, passages: Sequence[PromptPassage], *, not_covered: str, emit: Callable[[str], None], question: str = ""
    ) -> None:
        self._passages = passages
        self._not_covered = not_covered
        self._question = question
        self._emit = emit
        self._raw = ""
        self.released: list[str] = []

    def feed(self, delta: str) -> None:
        self._raw += delta
        if "." not in delta and "]" not in delta:
            return  # no sentence can have completed
        settled = complete_prefix(self._raw)
        text, _ = loops.cut_repetition(settled)
        grounded = ground(tidy_markers(text), self._passages, not_covered=self._not_covered, question=self._question)
        self._release(grounded.sentences)

    def _release(self, sentences: Sequence[str]) -> None:
        if list(sentences[: len(self.released)]) != self.released:
            return  # an earlier sentence changed (a repeat found late): release nothing more now
        for sentence in sentences[len(self.released) :]:
            self._emit(sentence if not self.released else " " + sentence)
            self.released.append(sentence)

    def finish(self, final: Sequence[str]) -> tuple[str, ...]:
        """The answer's sentences given the final grounded ``final``: what was released, then
        whatever of ``final`` follows it (emitted now)."""
        if list(final[: len(self.released)]) == self.released:
            self._release(final)
            return tuple(final)
        return tuple(self.released)
