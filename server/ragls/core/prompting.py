"""Prompt building: numbered passages within a token budget computed from the context size.

The messages are laid out so that llama.cpp can reuse its KV cache between requests: the system
message (system prompt + rules) never changes between requests of the same mode, the passages
come next and the question last, so a follow-up question about the same passages shares everything
but its last few tokens with the previous prompt.

Budget: ``context_size`` = prompt + answer. The answer's ``max_tokens`` is reserved first, then the
fixed parts (system message, question, chat-template overhead), and what is left goes to passages
in rank order. A passage that does not fit whole is trimmed to a window of its lines (around its
first matched line); passages are never allowed to overflow the context. When not even one line of
the best passage fits, :class:`ContextTooSmall` says by how much.

Pure: token counts come from a ``count_tokens`` callable (the model's tokenizer, or an estimate).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from string import Template
from typing import Callable, Sequence

from ragls.core.citations import content_words
from ragls.core.extractive import best_sentence_lines, clean_inline, split_sentences
from ragls.core.types import Citation, Hit

CountTokens = Callable[[str], int]

# Tokens the chat template adds around the messages (role markers, BOS...). Measured templates add
# 10-30; the host re-counts the final prompt and shrinks the budget if this was too optimistic.
TEMPLATE_OVERHEAD = 48
# The smallest passage worth sending: its header and one line.
PASSAGE_SEPARATOR = "\n\n"
# Focus: each passage is the lines of its hit that address the question, at most this many tokens
# (header included). A CPU reads ~250 prompt tokens/s, and a 135M model loses the thread in long
# passages and starts repeating them; whole chunks of 5 hits cost ~1,500 tokens (6 s) before the
# first word. ``None``: whole chunks, trimmed only to fit the context (the behaviour before).
FOCUS_TOKENS: int | None = 120
# At most this many passages when focusing; further hits are usually the same page again or a
# near miss, and every passage is prompt the model must read.
FOCUS_PASSAGES = 3
# How a focus window is chosen (focus_window): "anchor" starts from the sentence that would answer;
# "cover" takes the lines with the most question words (the rule before, and anchor's fallback),
# selectable so that benchmarks/bench_focus.py can compare the two on the same retrieval.
FOCUS_RULES = ("cover", "anchor")
FOCUS_RULE = "anchor"
# At most this many names of a code chunk in its header: a chunk packing many small definitions
# (or constants) would otherwise spend the focus window on a list of names.
HEADER_SYMBOLS = 3


class ContextTooSmall(ValueError):
    """Not even one line of one passage fits between the fixed prompt and the answer's reserve."""


@dataclass(frozen=True, slots=True)
class PromptTexts:
    """The prompt texts of one mode (answer or hover), as loaded from ``ragls/prompts``."""

    system: str  # may contain $not_covered
    question: str  # the user turn: $passages and $question
    not_covered: str

    def system_message(self) -> str:
        return Template(self.system).safe_substitute(not_covered=self.not_covered).strip()

    def user_message(self, passages: str, question: str) -> str:
        return Template(self.question).safe_substitute(passages=passages, question=question.strip()).strip()


@dataclass(frozen=True, slots=True)
class PromptPassage:
    """A passage as shown to the model: maybe a trimmed window of the hit's lines."""

    id: int  # the [n] marker
    hit: Hit
    start_line: int  # 1-based inclusive file lines actually shown
    end_line: int
    text: str
    trimmed: bool = False

    @property
    def title(self) -> str:
        """The full heading path (or symbols): what the user's citation names."""
        chunk = self.hit.chunk
        return chunk.heading_path or ", ".join(chunk.symbols)

    @property
    def label(self) -> str:
        """What the model is told the passage is: its innermost heading (the section its lines are
        in), for code the names it defines, else its file name. Path, line numbers and outer
        headings took a median 44 of the FOCUS_TOKENS 120 and crowded out the sentence that
        answers; the model cites by ``[n]``, and the user's citation keeps them (:meth:`citation`)."""
        chunk = self.hit.chunk
        if chunk.heading:
            return chunk.heading[-1]
        if chunk.symbols:
            # Qualified names as written: short already, and a model that writes "Answerer.retrieve"
            # must find it shown (the grounded guard checks dotted names as facts).
            names = chunk.symbols[:HEADER_SYMBOLS]
            return ", ".join(names) + (", …" if len(chunk.symbols) > HEADER_SYMBOLS else "")
        return posixpath.basename(chunk.path)

    @property
    def header(self) -> str:
        return f"[{self.id}] {self.label}"

    def render(self) -> str:
        return f"{self.header}\n{self.text}"

    def citation(self) -> Citation:
        return Citation(
            id=self.id,
            path=self.hit.chunk.path,
            start_line=self.start_line,
            end_line=self.end_line,
            title=self.title,
            snippet=self.hit.snippet or _first_lines(self.text, 3),
            root=self.hit.root,
        )


@dataclass(frozen=True, slots=True)
class PromptPlan:
    system: str
    user: str
    passages: tuple[PromptPassage, ...]
    dropped: int  # hits left out for lack of room

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]


def _first_lines(text: str, n: int) -> str:
    return "\n".join(text.splitlines()[:n])


def passage_budget(*, context_size: int, max_tokens: int, fixed_tokens: int, overhead: int = TEMPLATE_OVERHEAD) -> int:
    """Tokens left for passages once the answer reserve and the fixed prompt parts are counted."""
    return context_size - max_tokens - fixed_tokens - overhead


def _window(n_lines: int, first_matched: int | None, fits: Callable[[int, int], bool]) -> tuple[int, int] | None:
    """The largest window [lo, hi) of line indexes that ``fits``, grown from the first matched line.

    Grows forward first (the lines after a match usually explain it), then backward, one line at a
    time; returns None when not even one line fits.
    """
    start = min(max(first_matched or 0, 0), n_lines - 1)
    lo, hi = start, start + 1
    if not fits(lo, hi):
        return None
    grown = True
    while grown:
        grown = False
        if hi < n_lines and fits(lo, hi + 1):
            hi += 1
            grown = True
        elif lo > 0 and fits(lo - 1, hi):
            lo -= 1
            grown = True
    return lo, hi


def select_passages(
    hits: Sequence[Hit],
    budget: int,
    count_tokens: CountTokens,
    *,
    question: str = "",
    focus_tokens: int | None = None,
    max_passages: int | None = None,
) -> list[PromptPassage]:
    """Number and (if needed) trim ``hits`` in rank order to fit ``budget`` tokens.

    A hit that does not fit whole is trimmed to a
    window of its lines; later, smaller hits may still fit after a big one was trimmed.
    With ``focus_tokens`` each hit is cut to its lines that address ``question``
    (:func:`focus_window`) and a hit whose lines share no word with the question is left out
    (unless it is the only one); ``max_passages`` caps how many are kept.
    """
    return _select(hits, budget, count_tokens, question=question, focus_tokens=focus_tokens, max_passages=max_passages)[0]


def _select(
    hits: Sequence[Hit],
    budget: int,
    count_tokens: CountTokens,
    *,
    question: str,
    focus_tokens: int | None,
    max_passages: int | None,
    focus_rule: str = FOCUS_RULE,
) -> tuple[list[PromptPassage], int]:
    """:func:`select_passages`, and how many hits it left out by choice rather than for room."""
    by_choice = 0
    passages: list[PromptPassage] = []
    used = 0
    sep_tokens = count_tokens(PASSAGE_SEPARATOR)
    for index, hit in enumerate(hits):
        if max_passages is not None and len(passages) >= max_passages:
            by_choice += len(hits) - index
            break
        remaining = budget - used - (sep_tokens if passages else 0)
        if remaining <= 0:
            break
        if focus_tokens:
            focused = focus_window(
                hit, question, min(remaining, focus_tokens), count_tokens, passage_id=len(passages) + 1, rule=focus_rule
            )
            if focused is None:
                continue
            if focused.covered == 0 and passages:
                by_choice += 1
                continue
            cost = count_tokens(focused.passage.header + "\n") + count_tokens(focused.passage.text + "\n")
            used += cost + (sep_tokens if passages else 0)
            passages.append(focused.passage)
            continue
        chunk = hit.chunk
        lines = chunk.text.split("\n")
        if lines and lines[-1] == "" and len(lines) > 1:
            lines.pop()  # a trailing newline is not a line of its own
        passage_id = len(passages) + 1
        line_tokens = [count_tokens(line + "\n") for line in lines]

        def header_tokens(lo: int, hi: int) -> int:
            probe = PromptPassage(passage_id, hit, chunk.start_line + lo, chunk.start_line + hi - 1, "")
            return count_tokens(probe.header + "\n")

        def fits(lo: int, hi: int) -> bool:
            return header_tokens(lo, hi) + sum(line_tokens[lo:hi]) <= remaining

        if fits(0, len(lines)):
            lo, hi = 0, len(lines)
        else:
            matched = [ln - chunk.start_line for ln in hit.matched_lines if chunk.start_line <= ln <= chunk.end_line]
            window = _window(len(lines), min(matched) if matched else None, fits)
            if window is None:
                continue  # not even one line of this hit fits; a later, shorter one might
            lo, hi = window
        text = "\n".join(lines[lo:hi])
        passage = PromptPassage(
            id=passage_id,
            hit=hit,
            start_line=chunk.start_line + lo,
            end_line=chunk.start_line + hi - 1,
            text=text,
            trimmed=(lo, hi) != (0, len(lines)),
        )
        used += header_tokens(lo, hi) + sum(line_tokens[lo:hi]) + (sep_tokens if passages else 0)
        passages.append(passage)
    return passages, by_choice


def build_prompt(
    question: str,
    hits: Sequence[Hit],
    texts: PromptTexts,
    *,
    context_size: int,
    max_tokens: int,
    count_tokens: CountTokens,
    overhead: int = TEMPLATE_OVERHEAD,
    focus_tokens: int | None = None,
    focus_rule: str = FOCUS_RULE,
) -> PromptPlan:
    """System and user messages with as many numbered passages as the context allows.

    ``focus_tokens``: the per-passage cap of :func:`focus_window` (the host passes
    :data:`FOCUS_TOKENS`); None: whole chunks, trimmed only to fit. Raises :class:`ContextTooSmall`
    when hits were given but not one line of them fits.
    """
    focus = focus_tokens
    system = texts.system_message()
    fixed = count_tokens(system) + count_tokens(texts.user_message("", question))
    budget = passage_budget(context_size=context_size, max_tokens=max_tokens, fixed_tokens=fixed, overhead=overhead)
    passages, by_choice = (
        _select(
            hits,
            budget,
            count_tokens,
            question=question,
            focus_tokens=focus,
            max_passages=FOCUS_PASSAGES if focus else None,
            focus_rule=focus_rule,
        )
        if budget > 0
        else ([], 0)
    )
    # Focus leaves hits out by choice (beyond FOCUS_PASSAGES, or saying nothing of the question):
    # only the hits that found no room count as dropped.
    dropped = len(hits) - len(passages) - by_choice
    if hits and not passages:
        raise ContextTooSmall(
            f"context of {context_size} tokens is too small: after reserving {max_tokens} for the answer and "
            f"{fixed + overhead} for the instructions and question, {max(budget, 0)} are left, "
            f"not enough for one line of a passage"
        )
    user = texts.user_message(PASSAGE_SEPARATOR.join(p.render() for p in passages), question)
    return PromptPlan(
        system=system,
        user=user,
        passages=tuple(passages),
        dropped=dropped,
    )


def estimate_tokens(text: str) -> int:
    """A tokenizer-free upper-ish estimate (for remote endpoints): ~3 characters per token."""
    return (len(text) + 2) // 3


# --- focus: the lines of a hit that address the question --------------------------------------

_ENDS_SENTENCE = re.compile(r"[.!?:]\W*$")
_ELLIPSIS = " … "


def question_terms(question: str) -> frozenset[str]:
    """The content words of a question (crude stems, no stopwords), as passages are matched."""
    return frozenset(content_words(question))


@dataclass(frozen=True, slots=True)
class Focused:
    passage: PromptPassage
    covered: int  # distinct question terms its text contains


def _display_lines(chunk_text: str, kind: str, start_line: int) -> list[str]:
    """The chunk's lines as the model reads them: prose without markup noise (link targets, Hugo
    shortcodes cost tokens and say nothing), code as written. Front matter reads as blank."""
    lines = chunk_text.split("\n")
    if lines and lines[-1] == "" and len(lines) > 1:
        lines.pop()
    if kind == "code":
        return lines
    shown = []
    in_front_matter = start_line == 1 and bool(lines) and lines[0].strip() in ("---", "+++")
    for offset, line in enumerate(lines):
        if in_front_matter:
            if offset > 0 and line.strip() in ("---", "+++"):
                in_front_matter = False
            shown.append("")
            continue
        shown.append(clean_inline(line))
    return shown


def _excerpt(line: str, terms: frozenset[str], cap: int, count_tokens: CountTokens, *, room: int) -> str:
    """The sentences of one long line that contain question terms, in order, within ``cap``
    tokens (gaps marked with an ellipsis); the first sentence when none does. The first sentence
    may take up to ``room``: a line of one long sentence is shown whole if it fits at all, never
    as nothing."""
    sentences = split_sentences(line)
    picked = [i for i, sentence in enumerate(sentences) if question_terms(sentence) & terms] or [0]
    kept: list[int] = []
    for i in picked:
        candidate = kept + [i]
        text = _join_excerpt(sentences, candidate)
        if count_tokens(text) > (cap if kept else max(cap, room)):
            break
        kept = candidate
    return _join_excerpt(sentences, kept) if kept else ""


def _join_excerpt(sentences: list[str], indexes: list[int]) -> str:
    out = ""
    for n, i in enumerate(indexes):
        if n:
            out += " " if i == indexes[n - 1] + 1 else _ELLIPSIS
        out += sentences[i]
    return out


def focus_window(
    hit: Hit, question: str, cap: int, count_tokens: CountTokens, *, passage_id: int, rule: str = FOCUS_RULE
) -> Focused | None:
    """The contiguous lines of ``hit`` that address ``question`` within ``cap`` tokens, in whole
    sentences. None when nothing fits.

    ``rule`` "anchor": the window starts from the sentence the extractive answer would quote from
    this hit (:func:`ragls.core.extractive.best_sentence_lines`) and takes the lines after it while
    they fit — the line that names a term is usually followed by the lines that give its value —,
    then the lines before it. "cover" (and "anchor" when no sentence qualifies, or code): the lines
    that cover the most question terms, fewest tokens on a tie.

    Contiguous, so that the citation's lines are exactly the lines shown; a line that alone does not
    fit is shown as an excerpt of its matching sentences (still that line).
    """
    if rule not in FOCUS_RULES:
        raise ValueError(f"unknown focus rule {rule!r}; one of {', '.join(FOCUS_RULES)}")
    terms = question_terms(question)
    chunk = hit.chunk
    shown = _display_lines(chunk.text, chunk.kind, chunk.start_line)
    n = len(shown)
    if n == 0:
        return None
    probe = PromptPassage(passage_id, hit, chunk.end_line, chunk.end_line, "")
    header = count_tokens(probe.header + "\n")  # the same for every window: it names no lines
    room = cap - header
    if room <= 0:
        return None
    for i, line in enumerate(shown):
        if line and count_tokens(line) > room:
            shown[i] = _excerpt(line, terms, room // 2, count_tokens, room=room)
    cost = [count_tokens(line + "\n") if line else 1 for line in shown]
    found = [question_terms(line) & terms if line else frozenset() for line in shown]
    window = _anchored(hit, question, shown, cost, room) if rule == "anchor" and chunk.kind != "code" else None
    if window is None:
        window = _most_covered(shown, cost, found, room)
    if window is None:
        return None
    lo, hi = window
    tokens = sum(cost[lo:hi])
    # Whole sentences: a window that starts or ends inside a wrapped sentence reads as nonsense.
    while hi < n and _continues(shown[hi - 1], shown[hi]) and tokens + cost[hi] <= room:
        tokens += cost[hi]
        hi += 1
    while lo > 0 and _continues(shown[lo - 1], shown[lo]) and tokens + cost[lo - 1] <= room:
        lo -= 1
        tokens += cost[lo]
    covered: set[str] = set().union(*found[lo:hi])
    text = "\n".join(line for line in _squeeze_blank(shown[lo:hi]))
    passage = PromptPassage(
        id=passage_id,
        hit=hit,
        start_line=chunk.start_line + lo,
        end_line=chunk.start_line + hi - 1,
        text=text,
        trimmed=True,
    )
    return Focused(passage=passage, covered=len(covered))


def _most_covered(shown: list[str], cost: list[int], found: list[frozenset[str]], room: int) -> tuple[int, int] | None:
    """The window [lo, hi) of line indexes that covers the most terms within ``room`` tokens
    (fewest tokens on a tie, then the earliest); it starts and ends on a non-blank line."""
    n = len(shown)
    best: tuple[int, int, int, int] | None = None  # (covered, -tokens, -lo, -hi) — max wins
    for lo in range(n):
        if not shown[lo]:
            continue
        tokens, covered = 0, set()
        for hi in range(lo + 1, n + 1):
            tokens += cost[hi - 1]
            if tokens > room:
                break
            covered |= found[hi - 1]
            if not shown[hi - 1]:
                continue
            key = (len(covered), -tokens, -lo, -hi)
            if best is None or key > best:
                best = key
    return None if best is None else (-best[2], -best[3])


def _anchored(hit: Hit, question: str, shown: list[str], cost: list[int], room: int) -> tuple[int, int] | None:
    """The window [lo, hi) grown from the best sentence's lines: forward while the next line fits,
    then backward, never across a heading; it never ends inside a wrapped sentence it could not
    finish. None when no sentence qualifies or the sentence alone does not fit."""
    lines = best_sentence_lines(question, hit)
    if lines is None:
        return None
    start = hit.chunk.start_line
    lo, hi = lines[0] - start, lines[1] - start + 1
    if lo < 0 or hi > len(shown) or lo >= hi:
        return None
    tokens = sum(cost[lo:hi])
    if tokens > room or not any(shown[lo:hi]):
        return None  # (blank: a long line whose excerpt left the sentence out)
    anchor_lo, anchor_hi = lo, hi
    while hi < len(shown) and tokens + cost[hi] <= room and not _HEADING.match(shown[hi]):
        tokens += cost[hi]
        hi += 1
    while lo > 0 and tokens + cost[lo - 1] <= room and not _HEADING.match(shown[lo - 1]):
        lo -= 1
        tokens += cost[lo]
    # Not half a sentence at either end (the caller widens to whole sentences where room allows).
    while hi > anchor_hi and hi < len(shown) and _continues(shown[hi - 1], shown[hi]):
        hi -= 1
    while lo < anchor_lo and lo > 0 and _continues(shown[lo - 1], shown[lo]):
        lo += 1
    while hi > anchor_hi and not shown[hi - 1]:
        hi -= 1
    while lo < anchor_lo and not shown[lo]:
        lo += 1
    return lo, hi


# A heading (Markdown, AsciiDoc) bounds the lines an anchor takes in: the one above it is the
# section's own, which the passage header names already; one below starts another section.
_HEADING = re.compile(r"^\s*(?:#{1,6}|={1,6})\s")
_BLOCK_START = re.compile(r"^\s*(?:#|[-*+] |\d+[.)] |```|~~~|\||<)")


def _continues(line: str, following: str) -> bool:
    """Whether ``following`` continues the sentence ``line`` started (wrapped prose): ``line`` does
    not end a sentence and ``following`` starts no block of its own (heading, list item, fence,
    table, tag). Headings are never pulled in: the passage header names them already."""
    return bool(line and following) and not _ENDS_SENTENCE.search(line) and not _BLOCK_START.match(following) and not _BLOCK_START.match(line)


def _squeeze_blank(lines: list[str]) -> list[str]:
    """Runs of blank lines read as one (the line range still counts them)."""
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return out
