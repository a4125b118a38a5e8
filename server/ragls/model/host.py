"""The one owner of the model: loads in the background, one lock around every call into it.

Usage (the LSP server and the CLI do exactly this)::

    host = ModelHost(settings.model, log)
    host.start()                       # returns at once; status().state == "loading"
    ...
    status = host.status()             # "none" | "loading" | "ready" | "failed" (+ detail)
    try:
        answer = host.answer(
            AnswerRequest(question, adapters=[("terse", 1.0)]),  # adapters None: defaultAdapters
            hits,
            AnswerHooks(on_delta=stream_to_client,               # called with each text delta
                        cancel=event))                           # set it to stop within a token
    except ModelUnavailable:
        answer = extractive_answer(...)                       # no model / still loading / failed
    host.update_settings(new_settings.model)                  # warnings for the user
    host.close()

Backends: ``settings.remote.url`` set → :class:`~ragls.model.remote.RemoteBackend`; else
``settings.path`` set → :class:`~ragls.model.llama_backend.LlamaBackend`; else state ``none``.
Loading never raises out of :meth:`ModelHost.start`: a missing, corrupt or non-GGUF file, or a
context too small for one passage, gives state ``failed`` with the reason in ``detail``; an
adapter llama.cpp refuses leaves the model ready, with the adapter left out and a warning.

Answers: the prompt is built by :func:`ragls.core.prompting.build_prompt` (numbered passages in a
token budget, system message first so llama.cpp reuses the shared prefix), the output is
constrained by the mode's grammar specialised to the passages given, and checked afterwards by
:func:`ragls.core.citations.check_citations`. ``Answer.citations`` holds the cited passages
(``Citation.id`` = the ``[n]`` marker, lines = the lines shown to the model); ``abstained`` is True
when the model gave the "not covered" sentence. When generation stops early (``max_tokens`` or
``cancel``), the text is cut back to its last complete cited sentence and a warning says so; the
deltas already streamed are not taken back (the final Answer is authoritative).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Callable, Sequence

from ragls.core import citations, grammar, grounding, prompting
from ragls.core.requests import NO_HOOKS, AnswerHooks, AnswerRequest, GenerationRequest
from ragls.core.types import Answer, Hit
from ragls.model.backend import (
    AdapterStatus,
    Backend,
    ModelCrashed,
    ModelLoadError,
    ModelStatus,
    ModelUnavailable,
)
from ragls.model.resources import MODES, ModeResources, load_mode
from ragls.settings import ModelSettings

# Hover answers are one or two sentences: a small reserve leaves more room for passages.
HOVER_MAX_TOKENS = 128
# The smallest useful passage budget; a context that leaves less is refused at load time.
MIN_PASSAGE_TOKENS = 32
# Lock polling interval while another request generates, so a waiting request can be cancelled.
_LOCK_POLL_S = 0.05

# Settings whose change needs a new backend (model reload or reconnect).
_RELOAD_FIELDS = ("path", "gpu_layers", "context_size", "threads", "weight_repacking", "remote")

# A crashed model process is restarted after RESTART_BACKOFF_S, doubling with each crash; after
# CRASH_LIMIT crashes within CRASH_WINDOW_S the host stops trying (a model that crashes that often
# would only cost every answer a restart).
RESTART_BACKOFF_S = 1.0
CRASH_LIMIT = 3
CRASH_WINDOW_S = 300


def _file_identity(path: str | None) -> tuple[int, int, int] | None:
    """(inode, size, mtime): what tells a replaced or rewritten model file from the loaded one."""
    if not path:
        return None
    try:
        stat = os.stat(os.path.expanduser(path))
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


@dataclass(frozen=True, slots=True)
class ModelEvent:
    """What the host tells its listener: ``ready`` | ``crashed`` (restarting) | ``reloading`` (the
    file changed) | ``failed``."""

    kind: str
    message: str


class ModelHost:
    """The one owner of the model: loads in a background thread, one lock around every model call.

    A local model runs in its own process (:class:`~ragls.model.process.ProcessBackend`). When that
    process dies, the request it served raises :class:`ModelCrashed` (callers answer from the
    passages) and the host restarts it after a backoff; after ``CRASH_LIMIT`` crashes within
    ``CRASH_WINDOW_S`` it gives up: state ``failed``, the reason in ``detail``, and ``listener``
    hears of it (the LSP shows it to the user, the CLI prints it).
    """

    def __init__(
        self,
        settings: ModelSettings,
        log: logging.Logger | None = None,
        *,
        listener: Callable[[ModelEvent], None] | None = None,
    ) -> None:
        self._settings = settings
        self._log = log or logging.getLogger("ragls.model")
        self.listener = listener
        self._lock = threading.Lock()  # the model lock: every backend call happens under it
        self._state_lock = threading.Lock()  # guards crash bookkeeping (never held around model calls)
        self._backend: Backend | None = None
        self._state = "none"
        self._detail = ""
        self._warnings: tuple[str, ...] = ()
        self._generation = 0  # bumps on every (re)load so a stale loader does not publish
        self._done = threading.Event()
        self._done.set()
        self._crashes: list[float] = []  # monotonic times of recent crashes
        self._last_crash = ""
        self._repacking_override: str | None = None  # "off" once a crash happened with repacking on
        self._closed = False
        # Backends whose process exit is no news: closed on purpose, or their crash already handled
        # (the monitor thread and the request that hit the crash both report it).
        self._retired: weakref.WeakSet = weakref.WeakSet()
        self._file_identity: tuple[int, int, int] | None = None  # the model file as loaded
        self._modes: dict[str, ModeResources] = {mode: load_mode(mode) for mode in MODES}

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Begin loading in the background; returns at once. Forgets earlier crashes."""
        with self._state_lock:
            self._crashes.clear()
            self._repacking_override = None
        self._begin_load(f"loading {self._settings.remote.url or self._settings.path}")

    def _begin_load(self, detail: str, delay: float = 0.0) -> None:
        settings = self._settings
        if not settings.remote.url and not settings.path:
            self._publish(self._generation, "none", "no model configured", ())
            return
        self._generation += 1
        generation = self._generation
        self._done.clear()
        self._publish(generation, "loading", detail, ())
        thread = threading.Thread(
            target=self._load, args=(settings, generation, delay), name="ragls-model-loader", daemon=True
        )
        thread.start()

    def _load(self, settings: ModelSettings, generation: int, delay: float = 0.0) -> None:
        if delay and self._wait_superseded(generation, delay):
            return
        if self._repacking_override and settings.weight_repacking == "auto":
            settings = dataclasses.replace(settings, weight_repacking=self._repacking_override)
        try:
            with self._lock:
                if generation != self._generation:
                    return
                self._close_backend()
                if settings.remote.url:
                    from ragls.model.remote import RemoteBackend

                    backend, warnings = RemoteBackend.connect(settings, self._log)
                else:
                    from ragls.model.process import ProcessBackend

                    backend, warnings = ProcessBackend.load(settings, self._log)
                try:
                    self._check_context(backend, settings)
                except ModelLoadError:
                    backend.close()
                    raise
                if generation != self._generation:  # a newer load was requested meanwhile
                    backend.close()
                    return
                self._backend = backend
                self._file_identity = _file_identity(settings.path) if not settings.remote.url else None
            for warning in warnings:
                self._log.warning("%s", warning)
            self._publish(generation, "ready", backend.detail, tuple(warnings))
            if hasattr(backend, "wait_exit"):
                threading.Thread(
                    target=self._monitor, args=(backend,), name="ragls-model-monitor", daemon=True
                ).start()
            self._notify(ModelEvent("ready", backend.detail))
        except ModelCrashed as exc:
            self._log.error("model process crashed while loading: %s", exc.reason)
            self._crashed(None, exc, generation)
        except ModelLoadError as exc:
            self._log.error("model not loaded: %s", exc)
            self._publish(generation, "failed", str(exc), ())
            self._notify(ModelEvent("failed", str(exc)))
        except Exception as exc:  # noqa: BLE001 - whatever a backend throws must not kill the server
            self._log.exception("model not loaded")
            self._publish(generation, "failed", f"unexpected error while loading: {exc}", ())
            self._notify(ModelEvent("failed", f"unexpected error while loading: {exc}"))
        finally:
            if generation == self._generation and self._state != "loading":
                self._done.set()

    def _wait_superseded(self, generation: int, delay: float) -> bool:
        """Sleep ``delay`` seconds (a restart's backoff); True when a newer load or close came meanwhile."""
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if generation != self._generation:
                return True
            time.sleep(min(0.05, max(deadline - time.monotonic(), 0)))
        return generation != self._generation

    def _monitor(self, backend: Backend) -> None:
        """Notice a model process that dies between requests (kill -9, OOM killer) and restart it
        before the next question, rather than failing that question."""
        code = backend.wait_exit()  # type: ignore[attr-defined]
        if self._closed or backend is not self._backend or backend in self._retired:
            return
        from ragls.model.process import describe_exit

        # The monitor may notice a crash before the request that caused it does: then it was
        # not idle (the model lock is held by that request).
        during = "answering" if self._lock.locked() else "idle"
        self._crashed(backend, ModelCrashed(describe_exit(code), during=during), self._generation)

    def _crashed(self, backend: Backend | None, exc: ModelCrashed, generation: int) -> None:
        """Book-keep one crash (once per process) and restart after a backoff, or give up."""
        with self._state_lock:
            if backend is not None:
                if backend is not self._backend or backend in self._retired:
                    return
                self._retired.add(backend)
            if generation != self._generation or self._closed:
                return
            now = time.monotonic()
            self._crashes = [t for t in self._crashes if now - t < CRASH_WINDOW_S] + [now]
            self._last_crash = exc.reason
            count = len(self._crashes)
            repacked = bool(getattr(backend, "info", {}).get("repacking")) if backend is not None else False
            if repacked and self._settings.weight_repacking == "auto":
                self._repacking_override = "off"
        self._log.error("%s (crash %d within %d s)", exc, count, CRASH_WINDOW_S)
        if count >= CRASH_LIMIT:
            detail = (
                f"the model process crashed {count} times within {CRASH_WINDOW_S // 60} minutes "
                f"(last: {exc.reason}); not restarted. Answers come from the passages; change a model "
                "setting or restart ragls to try again"
            )
            self._publish(generation, "failed", detail, self._warnings)
            self._done.set()
            self._notify(ModelEvent("failed", detail))
            return
        delay = RESTART_BACKOFF_S * 2 ** (count - 1)
        note = " with weight repacking off" if self._repacking_override == "off" and repacked else ""
        self._notify(ModelEvent("crashed", f"{exc}; restarting the model in {delay:g} s{note}"))
        self._begin_load(f"restarting after a crash ({exc.reason}){note}", delay=delay)

    def _check_model_file(self) -> None:
        """A model file replaced on disk (a new download, a re-quantisation) is reloaded; one that
        was deleted keeps answering from the loaded copy (its pages stay mapped) with a warning."""
        loaded, path = self._file_identity, self._settings.path
        if loaded is None or not path or self._settings.remote.url:
            return
        now = _file_identity(path)
        if now == loaded:
            return
        if now is None:
            note = f"the model file {path} was deleted; the loaded copy answers until the model is reloaded"
            if note not in self._warnings:
                self._warnings = (*self._warnings, note)
                self._log.warning("%s", note)
            return
        self._file_identity = None
        self._log.warning("the model file %s changed on disk; reloading it", path)
        self._notify(ModelEvent("reloading", f"the model file {path} changed on disk; reloading it"))
        self._begin_load(f"reloading {path}: the file changed on disk")
        raise ModelUnavailable("the model file changed on disk; it is being reloaded")

    def _notify(self, event: ModelEvent) -> None:
        listener = self.listener
        if listener is None:
            return
        try:
            listener(event)
        except Exception:  # noqa: BLE001 - a listener's failure is not the model's
            self._log.exception("model listener failed")

    def _check_context(self, backend: Backend, settings: ModelSettings) -> None:
        """Refuse a context that cannot hold the instructions, the answer and one short passage."""
        texts = self._modes["answer"].texts
        fixed = backend.count_tokens(texts.system_message()) + backend.count_tokens(texts.user_message("", "?"))
        budget = prompting.passage_budget(context_size=backend.context_size, max_tokens=settings.max_tokens, fixed_tokens=fixed)
        if budget < MIN_PASSAGE_TOKENS:
            raise ModelLoadError(
                f"context size {backend.context_size} is too small: the instructions take {fixed} tokens and "
                f"maxTokens reserves {settings.max_tokens} for the answer, leaving {max(budget, 0)} for passages "
                f"(need at least {MIN_PASSAGE_TOKENS}); raise model.contextSize or lower model.maxTokens"
            )

    def _publish(self, generation: int, state: str, detail: str, warnings: tuple[str, ...]) -> None:
        if generation != self._generation:
            return
        self._state, self._detail, self._warnings = state, detail, warnings

    def status(self) -> ModelStatus:
        settings = self._settings
        backend = self._backend
        ready = backend is not None and self._state == "ready"
        usable = backend.usable_adapters() if ready else ()
        defaults = set(settings.default_adapters)
        adapters = tuple(AdapterStatus(s.name, s.scale, s.name in defaults) for s in settings.adapters if s.name in usable)
        pid = getattr(backend, "pid", None) if ready else None
        rss = backend.rss_mb() if ready and hasattr(backend, "rss_mb") else None  # type: ignore[union-attr]
        with self._state_lock:
            now = time.monotonic()
            crashes = sum(1 for t in self._crashes if now - t < CRASH_WINDOW_S)
        return ModelStatus(
            state=self._state,
            detail=self._detail,
            path=settings.remote.url or settings.path,
            adapters=adapters,
            warnings=self._warnings,
            process_id=pid,
            rss_mb=round(rss, 1) if rss is not None else None,
            recent_crashes=crashes,
            last_crash=self._last_crash or None,
        )

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait for the current load (restarts included) to finish; True when the model is ready."""
        self._done.wait(timeout)
        return self._state == "ready"

    def update_settings(self, settings: ModelSettings) -> list[str]:
        """Apply new settings: reload only when the model itself changed; adapters switch in place."""
        old, self._settings = self._settings, settings
        if any(getattr(old, f) != getattr(settings, f) for f in _RELOAD_FIELDS):
            self.start()
            return [f"model reloading: {settings.remote.url or settings.path}" if (settings.remote.url or settings.path) else "model unloaded"]
        if old.adapters != settings.adapters and self._backend is not None:
            with self._lock:
                try:
                    warnings = self._backend.load_adapters(settings.adapters) if self._backend is not None else []
                except ModelCrashed as exc:
                    self._crashed(self._backend, exc, self._generation)
                    return [str(exc)]
            self._warnings = tuple(warnings)
            for warning in warnings:
                self._log.warning("%s", warning)
            return warnings
        return []

    def close(self) -> None:
        self._closed = True
        self._generation += 1  # a load still running will discard its result
        with self._lock:
            self._close_backend()
        self._state, self._detail = "none", "closed"
        self._done.set()

    def _close_backend(self) -> None:
        backend, self._backend = self._backend, None
        if backend is not None:
            self._retired.add(backend)  # its exit is not a crash
            backend.close()

    # --- answering ----------------------------------------------------------------------------

    def adapter_choice(self, names: Sequence[str]) -> list[tuple[str, float]]:
        """``(name, scale)`` pairs for adapter names, with the scales from the settings
        (e.g. ``host.adapter_choice(settings.hover.adapters)`` for hover)."""
        specs = {s.name: s for s in self._settings.adapters}
        return [(name, specs[name].scale if name in specs else 1.0) for name in names]

    def _resolve_adapters(self, requested: Sequence[tuple[str, float]] | None) -> tuple[list[tuple[str, float]], list[str]]:
        if requested is None:
            requested = self.adapter_choice(self._settings.default_adapters)
        usable = set(self._backend.usable_adapters()) if self._backend is not None else set()
        chosen, warnings = [], []
        for name, scale in requested:
            if name not in usable:
                warnings.append(f"adapter '{name}' is not loaded; answering without it")
            else:
                chosen.append((name, float(scale)))
        return chosen, warnings

    def answer(
        self,
        request: AnswerRequest,
        hits: Sequence[Hit],
        hooks: AnswerHooks = NO_HOOKS,
        *,
        wait: bool = True,
    ) -> Answer:
        """Answer ``request.model_question`` from ``hits`` (see the module docstring). Raises
        ModelUnavailable; with ``wait=False`` also when another generation holds the model (hover
        must not queue behind a long answer)."""
        mode = request.mode
        if mode not in self._modes:
            raise ValueError(f"unknown answer mode {mode!r}")
        if self._state != "ready":
            raise ModelUnavailable(f"model {self._state}: {self._detail}")
        self._check_model_file()
        resources = self._modes[mode]
        settings = self._settings
        max_tokens = request.max_tokens
        if max_tokens is None:
            max_tokens = settings.max_tokens if mode == "answer" else min(settings.max_tokens, HOVER_MAX_TOKENS)
        temperature = settings.temperature if request.temperature is None else request.temperature
        seed = settings.seed if request.seed is None else request.seed
        not_covered = resources.texts.not_covered
        on_delta = hooks.on_delta

        if not wait:
            if not self._lock.acquire(blocking=False):
                raise ModelUnavailable("model busy with another answer")
        elif not self._acquire(hooks.cancel):
            return Answer(text="", citations=(), abstained=False, source=self._source(), warnings=("cancelled",))
        backend = self._backend
        generation_id = self._generation
        try:
            if backend is None:
                raise ModelUnavailable(f"model {self._state}: {self._detail}")
            plan = self._plan(backend, request.model_question, hits, resources, max_tokens)
            warnings: list[str] = []
            if plan.dropped:
                warnings.append(f"{plan.dropped} of {len(hits)} passages left out: the context is full")
            if not plan.passages:  # nothing to ground an answer on: no need to ask the model
                if on_delta is not None:
                    on_delta(not_covered)
                return Answer(text=not_covered, citations=(), abstained=True, source=backend.source, warnings=tuple(warnings))
            active, adapter_warnings = self._resolve_adapters(request.adapters)
            warnings += adapter_warnings
            gbnf = grammar.specialise(
                resources.grammar_template, passage_count=len(plan.passages), not_covered=not_covered, bounds=resources.bounds
            )
            # The grounded guard streams only checked sentences: a client never shows text the
            # final answer leaves out.
            gate = (
                grounding.GroundedStream(plan.passages, not_covered=not_covered, emit=on_delta, question=request.question)
                if settings.grounded_guard and on_delta is not None
                else None
            )
            generation = backend.generate(
                GenerationRequest(
                    messages=tuple(plan.messages()),
                    grammar=gbnf,
                    adapters=tuple(active),
                    temperature=temperature,
                    seed=seed,
                    max_tokens=max_tokens,
                ),
                dataclasses.replace(hooks, on_delta=gate.feed) if gate is not None else hooks,
            )
        except ModelCrashed as exc:
            # Answered by the caller from the passages; the next question gets a fresh process.
            self._crashed(backend, exc, generation_id)
            raise
        finally:
            self._lock.release()
        warnings += generation.warnings
        answer = self._finish(generation.text, generation.finish_reason, plan, resources, backend, warnings, gate, request.question)
        if gate is not None and answer.abstained and on_delta is not None:
            on_delta(answer.text)  # the gate releases claims only; the abstention is said here
        return answer

    def _acquire(self, cancel: threading.Event | None) -> bool:
        while not self._lock.acquire(timeout=_LOCK_POLL_S):
            if cancel is not None and cancel.is_set():
                return False
        return True

    def _source(self) -> str:
        backend = self._backend
        return backend.source if backend is not None else "model"

    def _plan(
        self, backend: Backend, question: str, hits: Sequence[Hit], resources: ModeResources, max_tokens: int
    ) -> prompting.PromptPlan:
        """Build the prompt, then re-count it with the real chat template; shrink until it fits."""
        overhead = prompting.TEMPLATE_OVERHEAD
        for _ in range(4):
            try:
                plan = prompting.build_prompt(
                    question,
                    hits,
                    resources.texts,
                    context_size=backend.context_size,
                    max_tokens=max_tokens,
                    count_tokens=backend.count_tokens,
                    overhead=overhead,
                    # the lines of each hit that address the question, not whole chunks: a small
                    # model reads ~250 tokens/s on a CPU and repeats long passages
                    focus_tokens=prompting.FOCUS_TOKENS,
                )
            except prompting.ContextTooSmall as exc:
                raise ModelUnavailable(str(exc)) from exc
            excess = backend.prompt_tokens(plan.messages()) + max_tokens - backend.context_size
            if excess <= 0:
                return plan
            overhead += excess + 16
        raise ModelUnavailable("the prompt does not fit the context even after trimming the passages")

    def _finish(
        self,
        text: str,
        finish_reason: str,
        plan: prompting.PromptPlan,
        resources: ModeResources,
        backend: Backend,
        warnings: list[str],
        gate: "grounding.GroundedStream | None" = None,
        question: str = "",
    ) -> Answer:
        from ragls.core import loops

        not_covered = resources.texts.not_covered
        # Any backend's text can loop (a remote endpoint cannot be stopped mid-loop; the local one
        # stops at the first repeat, finish "loop"): keep the complete sentences before the repeat.
        text, looped = loops.cut_repetition(text)
        if looped or finish_reason == "loop":
            warnings.append("the model started repeating itself; kept its sentences before the repeat")
        if finish_reason in ("length", "cancelled") and text.strip() != not_covered:
            complete = grammar.complete_prefix(text)
            if finish_reason == "length":  # always said, so that clients (and benchmarks) can count it
                warnings.append("answer cut off at maxTokens; kept its complete sentences")
            else:
                warnings.append("answer cancelled; kept its complete sentences" if complete != text else "cancelled")
            text = complete
        elif finish_reason == "cancelled":
            warnings.append("cancelled")
        text = grammar.tidy_markers(text)
        text, said_not_covered = loops.drop_sentence(text, not_covered)
        if said_not_covered and not text:
            text = not_covered  # the abstention, written as a cited sentence: it cites nothing
        text = text.strip()
        if text == not_covered:
            return Answer(text=text, citations=(), abstained=True, source=backend.source, warnings=tuple(warnings))
        if not backend.enforces_grammar and text and not grammar.parses(
            text, passage_count=len(plan.passages), not_covered=not_covered, bounds=resources.bounds
        ):
            warnings.append("the answer does not follow the cited-sentence form (the endpoint ignores grammars)")
        removed = 0
        if self._settings.grounded_guard:
            grounded = grounding.ground(text, plan.passages, not_covered=not_covered, question=question)
            sentences = gate.finish(grounded.sentences) if gate is not None else grounded.sentences
            text = " ".join(sentences)
            removed = len(grounded.removed)
            if grounded.warning():
                warnings.append(grounded.warning())
        check = citations.check_citations(text, plan.passages)
        warnings += check.warnings
        return Answer(
            text=text,
            citations=check.citations,
            abstained=False,
            source=backend.source,
            warnings=tuple(warnings),
            removed_sentences=removed,
        )
