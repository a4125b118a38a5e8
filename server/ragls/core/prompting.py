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

from dataclasses import dataclass
from string import Template
from typing import Callable, Sequence

from ragls.core.types import Citation, Hit

CountTokens = Callable[[str], int]

# Tokens the chat template adds around the messages (role markers, BOS...). Measured templates add
# 10-30; the host re-counts the final prompt and shrinks the budget if this was too optimistic.
TEMPLATE_OVERHEAD = 48
# The smallest passage worth sending: its header and one line.
PASSAGE_SEPARATOR = "\n\n"


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
        chunk = self.hit.chunk
        return chunk.heading_path or ", ".join(chunk.symbols)

    @property
    def header(self) -> str:
        location = f"{self.hit.chunk.path}:{self.start_line}-{self.end_line}"
        return f"[{self.id}] {location} — {self.title}" if self.title else f"[{self.id}] {location}"

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


def select_passages(hits: Sequence[Hit], budget: int, count_tokens: CountTokens) -> list[PromptPassage]:
    """Number and (if needed) trim ``hits`` in rank order to fit ``budget`` tokens.

    A hit that does not fit whole is trimmed to a
    window of its lines; later, smaller hits may still fit after a big one was trimmed.
    """
    passages: list[PromptPassage] = []
    used = 0
    sep_tokens = count_tokens(PASSAGE_SEPARATOR)
    for hit in hits:
        remaining = budget - used - (sep_tokens if passages else 0)
        if remaining <= 0:
            break
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
    return passages


def build_prompt(
    question: str,
    hits: Sequence[Hit],
    texts: PromptTexts,
    *,
    context_size: int,
    max_tokens: int,
    count_tokens: CountTokens,
    overhead: int = TEMPLATE_OVERHEAD,
) -> PromptPlan:
    """System and user messages with as many numbered passages as the context allows.

    Raises :class:`ContextTooSmall` when hits were given but not one line of them fits.
    """
    system = texts.system_message()
    fixed = count_tokens(system) + count_tokens(texts.user_message("", question))
    budget = passage_budget(context_size=context_size, max_tokens=max_tokens, fixed_tokens=fixed, overhead=overhead)
    passages = select_passages(hits, budget, count_tokens) if budget > 0 else []
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
        dropped=len(hits) - len(passages),
    )


def estimate_tokens(text: str) -> int:
    """A tokenizer-free upper-ish estimate (for remote endpoints): ~3 characters per token."""
    return (len(text) + 2) // 3
