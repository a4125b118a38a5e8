"""The narrow interface every generation backend implements, and the model's reported state.

The rest of ragls talks to :class:`ragls.model.host.ModelHost` only; the host talks to one
:class:`Backend` (llama.cpp in-process, or an OpenAI-compatible endpoint), so neither the LSP nor
the CLI ever knows which one runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol, Sequence

from ragls.core.requests import NO_HOOKS, AnswerHooks, GenerationRequest


class ModelError(Exception):
    """Base of the model's errors."""


class ModelUnavailable(ModelError):
    """No model is ready (none configured, still loading, failed) or the request cannot be served
    by it (context too small). Callers fall back to extractive answers."""


class ModelCrashed(ModelUnavailable):
    """The model process died (a signal, an exit) or hung and was killed. The request it was
    serving falls back to an extractive answer; the host restarts the process."""

    def __init__(self, reason: str, *, during: str) -> None:
        super().__init__(f"the model process crashed while {during}: {reason}")
        self.reason = reason
        self.during = during


class ModelLoadError(ModelError):
    """Loading failed; the message is the reason shown to the user (``failed: <reason>``)."""


class AdapterStatus(NamedTuple):
    name: str
    scale: float
    active: bool  # part of the default set that requests use when they name none


@dataclass(frozen=True, slots=True)
class ModelStatus:
    state: str  # "none" | "loading" | "ready" | "failed"
    detail: str = ""  # the reason when failed; backend facts (offload, context) when ready
    path: str | None = None  # the model file or the endpoint URL
    adapters: tuple[AdapterStatus, ...] = ()  # usable adapters only
    warnings: tuple[str, ...] = ()  # e.g. an adapter llama.cpp refused
    process_id: int | None = None  # the model process (local models), while ready
    rss_mb: float | None = None  # its resident memory, reported apart from the server's
    recent_crashes: int = 0  # crashes of the model process within the host's crash window
    last_crash: str | None = None  # e.g. "SIGSEGV (segmentation fault)"


@dataclass(frozen=True, slots=True)
class Generation:
    text: str
    finish_reason: str  # "stop" | "length" | "cancelled"
    completion_tokens: int
    warnings: tuple[str, ...] = ()


class Backend(Protocol):
    """One loaded model. Not thread-safe: the host calls it under its one lock."""

    source: str  # Answer.source: "model:<file>" | "remote:<model>"
    context_size: int
    enforces_grammar: bool  # False: the endpoint ignores grammars; rely on the after-the-fact check
    detail: str  # facts for the status line

    def count_tokens(self, text: str) -> int: ...

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        """Tokens of the whole formatted prompt (chat template included)."""
        ...

    def usable_adapters(self) -> tuple[str, ...]: ...

    def load_adapters(self, specs: Sequence[object]) -> list[str]:
        """(Re)load the adapters of ``specs`` (AdapterSpec); returns warnings for refused ones."""
        ...

    def generate(self, request: GenerationRequest, hooks: AnswerHooks = NO_HOOKS) -> Generation:
        """Generate for ``request``, streaming through ``hooks`` (``on_prompt`` only where the
        backend can tell how far it has read the prompt)."""
        ...

    def close(self) -> None: ...
