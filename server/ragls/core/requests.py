"""What one answer asks for, and the callbacks it reports through: two plain values that travel
together from the LSP (or the CLI, or an agent tool) through ``Answerer.ask`` and
``ModelHost.answer`` to a backend's ``generate``, instead of each layer re-listing the parameters.

``AnswerRequest`` is data (what to answer, how); ``AnswerHooks`` is behaviour (where the text
streams, how far the prompt is read, when to stop). ``GenerationRequest`` is what a backend is
asked to generate once the host has built the prompt: plain values only, so it crosses the model
process boundary as it is (pickled).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Sequence

@dataclass(frozen=True, slots=True)
class AnswerRequest:
    """A question and how to answer it; ``None`` fields take the settings' values."""

    question: str
    focus: str | None = None  # the selection or identifier the question is about
    passages: int | None = None  # passages to retrieve (None: settings.retrieval.passages)
    adapters: Sequence[tuple[str, float]] | None = None  # (name, scale); None: the default adapters
    temperature: float | None = None
    seed: int | None = None
    max_tokens: int | None = None  # None: settings.model.maxTokens (hover: at most HOVER_MAX_TOKENS)
    mode: str = "answer"  # "answer" | "hover"

    @property
    def query(self) -> str:
        """What retrieval searches for: the question and its focus."""
        return f"{self.question} {self.focus}" if self.focus else self.question

    @property
    def model_question(self) -> str:
        """What the model is asked: the question, with its focus named apart."""
        return f"{self.question}\n\n(About: {self.focus})" if self.focus else self.question


@dataclass(frozen=True, slots=True)
class AnswerHooks:
    """The caller's side of one answer (every field optional).

    ``on_delta(text)``: each piece of answer text as it is produced. ``on_prompt(done, total)``:
    prompt tokens read so far while the model reads the passages (a backend that cannot tell never
    calls it). ``cancel``: set it to stop within a token (or a prompt slice)."""

    on_delta: Callable[[str], None] | None = None
    on_prompt: Callable[[int, int], None] | None = None
    cancel: threading.Event | None = None

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


NO_HOOKS = AnswerHooks()


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One generation, as the host asks a backend for it (every field resolved, none None but
    ``grammar`` and ``seed``)."""

    messages: tuple[dict[str, str], ...]
    grammar: str | None  # GBNF text; None: unconstrained
    adapters: tuple[tuple[str, float], ...]  # (name, scale) of the adapters to activate
    temperature: float
    seed: int | None  # None: a random seed
    max_tokens: int
