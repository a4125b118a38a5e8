"""Repetition in generated answers: find where an answer starts repeating itself, and cut it back.

Small models fall into loops: a sentence said again and again, or a phrase that keeps coming back
with small changes ("It provides the infrastructure, 100% of the time." six times). Penalties in
the sampler make loops rarer but cannot rule them out, and they also push a model away from words
it legitimately needs twice. So generation is watched: as soon as the text repeats a sentence, or
any run of :data:`NGRAM` words, generation ends and the answer is cut back to the last complete
cited sentence *before* the repetition began. What is kept never contains the repetition; what
was said before it is usually the good part (a small model's first sentence is its best).

Words are compared normalised: lower case, citation markers and punctuation dropped, so
"Pods run [1]." and "pods run [2]." are the same sentence.

Pure: no model, no I/O; used by the llama.cpp backend while it generates and by the host after any
backend (a remote endpoint cannot be stopped mid-loop, but its answer is cut back the same way).
"""

from __future__ import annotations

import re

# Eight words in a row said twice is a loop, not style: shorter spans recur legitimately in prose
# ("the name of the", "in the cluster [1]. The cluster"), longer ones let a loop run a long
# sentence before it is noticed.
NGRAM = 8

_WORD = re.compile(r"\[\d+\]|[^\W_]+")
_SENTENCE_END = re.compile(r"(?:\[\d+\])+\.")
_TRAILING_WORD = re.compile(r"[^\W_]+\Z")


def _words(text: str) -> list[tuple[str, int]]:
    """(normalised word, offset in ``text``) for every word; citation markers are not words."""
    return [(m.group(0).lower(), m.start()) for m in _WORD.finditer(text) if not m.group(0).startswith("[")]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each complete cited sentence (``... [n].``) in ``text``."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        while start < match.start() and text[start].isspace():
            start += 1  # the separator belongs to no sentence
        spans.append((start, match.end()))
        start = match.end()
    return spans


def normalised_sentence(text: str) -> str:
    return " ".join(word for word, _ in _words(text))


def repetition_start(text: str, ngram: int = NGRAM) -> int | None:
    """Offset in ``text`` where it starts repeating itself, or None.

    Two signs, whichever comes first: a complete sentence equal (normalised) to an earlier one —
    the offset is that sentence's start; and a run of ``ngram`` words seen before — the offset is
    the first word of the second occurrence (the first occurrence is kept: it was not a repeat yet).
    """
    found: int | None = None
    seen_sentences: set[str] = set()
    for start, end in sentence_spans(text):
        key = normalised_sentence(text[start:end])
        if key and key in seen_sentences:
            found = start
            break
        seen_sentences.add(key)
    words = _words(text)
    seen_grams: set[tuple[str, ...]] = set()
    for i in range(len(words) - ngram + 1):
        offset = words[i][1]
        if found is not None and offset >= found:
            break
        gram = tuple(word for word, _ in words[i : i + ngram])
        if gram in seen_grams:
            return offset
        seen_grams.add(gram)
    return found


def complete_sentences_before(text: str, offset: int) -> str:
    """``text`` up to the end of its last complete cited sentence that ends at or before ``offset``."""
    kept = ""
    for start, end in sentence_spans(text):
        if end > offset:
            break
        kept = text[:end]
    return kept


def cut_repetition(text: str, ngram: int = NGRAM) -> tuple[str, bool]:
    """``(text without its repetition, whether one was found)``: the complete cited sentences
    before the point where the text starts repeating itself (possibly ``""``)."""
    offset = repetition_start(text, ngram)
    if offset is None:
        return text, False
    return complete_sentences_before(text, offset), True


class LoopWatch:
    """Watches text as it streams and says when it starts repeating itself.

    Checks only when a word may have ended (the delta holds a space, a period or a bracket), so
    the cost is one scan of the text so far per word — microseconds against a token's
    milliseconds of decoding.
    """

    def __init__(self, ngram: int = NGRAM) -> None:
        self.ngram = ngram
        self.text = ""

    def feed(self, delta: str) -> bool:
        """Add ``delta``; True when the text so far repeats itself."""
        self.text += delta
        if not any(c in delta for c in " \n.[]"):
            return False
        # The last word may still be growing ("infra" of "infrastructure"): judge complete words.
        settled = _TRAILING_WORD.sub("", self.text)
        return repetition_start(settled, self.ngram) is not None


def drop_sentence(text: str, sentence: str) -> tuple[str, bool]:
    """``text`` without its cited sentences that say ``sentence`` (normalised, markers ignored):
    ``(kept text, whether any was dropped)``.

    A small model sometimes writes the fixed "not covered" sentence as an ordinary cited sentence
    ("The workspace does not cover this question [1]."), alone or after real ones. Said alone it is
    an abstention that must cite nothing; after real sentences it contradicts them.
    """
    target = normalised_sentence(sentence)
    pieces, dropped, position = [], False, 0
    for start, end in sentence_spans(text):
        if normalised_sentence(text[start:end]) == target:
            pieces.append(text[position:start])
            position, dropped = end, True
    if not dropped:
        return text, False
    pieces.append(text[position:])
    kept = "".join(pieces)
    kept = re.sub(r"\n{3,}", "\n\n", re.sub(r"(?<=\S)  +(?=\S)", " ", kept))  # the gap a sentence left
    return kept.strip(), True
