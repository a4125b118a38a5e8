"""In-process llama.cpp backend (llama-cpp-python): one ``Llama`` object, several LoRA adapters.

Adapters are loaded once, at model load, with the low-level API (``llama_adapter_lora_init``);
a request only changes which of them are active with which scales (``llama_set_adapters_lora``),
which needs no reload. Switching adapters does *not* invalidate llama.cpp's prefix cache, so the
backend calls ``llm.reset()`` after every switch — otherwise the next prompt would reuse KV
entries computed with the old adapters.

Not thread-safe (one llama context): :class:`ragls.model.host.ModelHost` calls it under its lock.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import logging
import os
import random
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import llama_cpp
import numpy as np
from llama_cpp import llama_chat_format
from llama_cpp._logger import llama_log_callback as _default_llama_log

from ragls.core.requests import NO_HOOKS, AnswerHooks, GenerationRequest
from ragls.model.backend import Generation, ModelLoadError
from ragls.model.gguf_header import GGUFHeaderError, available_memory_bytes, context_that_fits, read_model_header
from ragls.settings import AdapterSpec, ModelSettings

GGUF_MAGIC = b"GGUF"
_GGML_LOG_LEVEL_ERROR = 3
_GGML_LOG_LEVEL_CONT = 5

# Used when a GGUF carries no chat template: a plain layout any instruction model copes with.
FALLBACK_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}### {{ message['role'] | capitalize }}\n"
    "{{ message['content'] }}\n\n{% endfor %}{% if add_generation_prompt %}### Assistant\n{% endif %}"
)

# llama.cpp logs through one process-wide callback; while loading we swap in one that also keeps
# the error lines, so "failed: <reason>" can say what llama.cpp said. Serialised by this lock.
_log_capture_lock = threading.Lock()


@contextlib.contextmanager
def _capture_llama_errors() -> Iterator[list[str]]:
    lines: list[str] = []
    last_level = [0]

    @llama_cpp.llama_log_callback
    def capture(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        effective = last_level[0] if level == _GGML_LOG_LEVEL_CONT else level
        last_level[0] = effective
        if effective == _GGML_LOG_LEVEL_ERROR:
            lines.append(text.decode("utf-8", "replace"))
        _default_llama_log(level, text, user_data)

    with _log_capture_lock:
        llama_cpp.llama_log_set(capture, ctypes.c_void_p(0))
        try:
            yield lines
        finally:
            llama_cpp.llama_log_set(_default_llama_log, ctypes.c_void_p(0))


def _reason(lines: list[str]) -> str:
    text = " ".join("".join(lines).split())
    return text[-300:] if text else "no details from llama.cpp"


def check_model_file(path: str) -> Path:
    """Refuse a missing, unreadable or non-GGUF file before llama.cpp sees it (clear messages)."""
    file = Path(path).expanduser()
    if not file.exists():
        raise ModelLoadError(f"model file not found: {file}")
    if not file.is_file():
        raise ModelLoadError(f"model path is not a file: {file}")
    try:
        with file.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelLoadError(f"cannot read model file {file}: {exc.strerror or exc}") from exc
    if magic != GGUF_MAGIC:
        raise ModelLoadError(f"not a GGUF model file (no GGUF header): {file}")
    return file


def gpu_layers_for(setting: int) -> tuple[int, str]:
    """``-1`` means: everything on the GPU when this llama.cpp build has one, else the CPU."""
    supports_gpu = bool(llama_cpp.llama_supports_gpu_offload())
    if setting == -1:
        return (-1, "all layers on GPU") if supports_gpu else (0, "CPU (this llama.cpp build has no GPU support)")
    if setting > 0 and not supports_gpu:
        return 0, f"CPU (gpuLayers={setting} asked, but this llama.cpp build has no GPU support)"
    return setting, f"{setting} layers on GPU" if setting else "CPU"


def available_cores() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return max(os.cpu_count() or 1, 1)


def thread_counts(setting: int | None) -> tuple[int, int, str | None]:
    """(generation threads, prompt threads, warning). By default every core this process may use:
    llama-cpp-python's own default is half the cores for generation, one thread on a 2-core
    machine. More threads than cores only make them wait on each other, so a larger setting is
    lowered with a warning."""
    cores = available_cores()
    if setting is None:
        return cores, cores, None
    if setting > cores:
        return cores, cores, f"model.threads {setting} is more than the {cores} cores available; using {cores}"
    return setting, setting, None


def cpu_has_amx() -> bool:
    """Intel AMX (Sapphire Rapids and later): where llama.cpp's repacked weights crashed."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return any(flag.startswith("amx") for flag in line.split())
    except OSError:
        return False
    return False


def weight_repacking_for(setting: str) -> tuple[bool, str]:
    """Whether llama.cpp may repack CPU weights into its extra buffer types (AMX, interleaved
    layouts). ``auto``: not on CPUs with AMX, where the batched decode of repacked weights segfaults
    (ggml-org/llama.cpp#20824); elsewhere on, since repacking speeds up the quantisation types it
    supports and leaves the others as they are."""
    if setting == "on":
        return True, "model.weightRepacking on"
    if setting == "off":
        return False, "model.weightRepacking off"
    if cpu_has_amx():
        return False, "auto: this CPU has AMX, where repacked weights crash llama.cpp"
    return True, "auto"


@contextlib.contextmanager
def _extra_buffer_types(enabled: bool) -> Iterator[None]:
    """``Llama(...)`` builds its model params from ``llama_model_default_params()`` and offers no
    keyword for ``use_extra_bufts``: patch the default for the duration of one load."""
    native = llama_cpp.llama_cpp
    original = native.llama_model_default_params
    if enabled:
        yield
        return

    def without_extra_buffers():  # type: ignore[no-untyped-def]
        params = original()
        params.use_extra_bufts = False
        return params

    native.llama_model_default_params = without_extra_buffers
    try:
        yield
    finally:
        native.llama_model_default_params = original


class LlamaBackend:
    """A loaded GGUF model with its adapters. Construct with :meth:`load`."""

    enforces_grammar = True

    def __init__(self, llm: llama_cpp.Llama, path: Path, settings: ModelSettings, offload: str) -> None:
        self._llm = llm
        self.path = path
        self.source = f"model:{path.name}"
        self.context_size = llm.n_ctx()
        self.detail = f"{path.name}, context {self.context_size}, {offload}"
        self._adapters: dict[str, llama_cpp.llama_adapter_lora_p] = {}
        self._paths: dict[str, str] = {}  # adapter name -> the path it was loaded from
        self._active: tuple[tuple[str, float], ...] = ()
        self._grammars: dict[str, llama_cpp.LlamaGrammar] = {}
        self._utf8_guard = Utf8Guard(llm)
        self.threads = 0
        self.repacking = False
        template = llm.metadata.get("tokenizer.chat_template")
        self.chat_template_fallback = not template
        template = template or FALLBACK_CHAT_TEMPLATE
        eos, bos = llm.token_eos(), llm.token_bos()
        vocab = llm._model  # token texts for the template's bos_token/eos_token
        self._formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=vocab.token_get_text(eos) if eos != -1 else "",
            bos_token=vocab.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )

    @classmethod
    def load(cls, settings: ModelSettings, log: logging.Logger) -> tuple["LlamaBackend", list[str]]:
        assert settings.path, "LlamaBackend.load needs settings.path"
        path = check_model_file(settings.path)
        n_gpu_layers, offload = gpu_layers_for(settings.gpu_layers)
        warnings: list[str] = []
        threads, batch_threads, thread_warning = thread_counts(settings.threads)
        if thread_warning:
            warnings.append(thread_warning)
        repack, repack_reason = weight_repacking_for(settings.weight_repacking)
        try:
            header = read_model_header(path)
        except GGUFHeaderError as exc:
            raise ModelLoadError(f"{path.name} is not a usable GGUF model: {exc}; point model.path at a full model") from exc
        context, context_warnings = context_that_fits(
            settings.context_size,
            training=header.training_context,
            kv_bytes_per_token=header.kv_bytes_per_token(),
            available=available_memory_bytes(),
        )
        warnings += context_warnings
        try:
            llm = cls._open(path, settings, n_ctx=context, n_gpu_layers=n_gpu_layers, threads=threads, batch_threads=batch_threads, repack=repack)
        except ModelLoadError as exc:
            # llama.cpp often says nothing useful; the architecture is the usual reason
            raise ModelLoadError(
                f"{exc} (architecture '{header.architecture or 'unknown'}', llama-cpp-python {llama_cpp.__version__}: "
                "a model of an architecture this llama.cpp does not support, or a damaged file?)"
            ) from exc
        offload = f"{offload}, {threads} threads, weight repacking {'on' if repack else 'off'} ({repack_reason})"
        backend = cls(llm, path, settings, offload)
        backend.threads, backend.repacking = threads, repack
        if backend.chat_template_fallback:
            warnings.append(
                f"{path.name} has no chat template (a base model?): using a plain '### User / ### Assistant' layout; "
                "an instruction-tuned model answers better"
            )
        warnings += backend.load_adapters(settings.adapters)
        log.info("model loaded: %s", backend.detail)
        return backend, warnings

    @staticmethod
    def _open(
        path: Path, settings: ModelSettings, *, n_ctx: int, n_gpu_layers: int, threads: int, batch_threads: int, repack: bool
    ) -> llama_cpp.Llama:
        with _capture_llama_errors() as errors, _extra_buffer_types(repack):
            try:
                return llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_threads=threads,
                    n_threads_batch=batch_threads,
                    n_gpu_layers=n_gpu_layers,
                    seed=settings.seed if settings.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelLoadError(f"llama.cpp could not load {path.name}: {_reason(errors)}") from exc

    def info(self, warnings: Sequence[str]) -> dict:
        """What the host needs to know about this model, as plain values (crosses a process boundary)."""
        return {
            "source": self.source,
            "context_size": self.context_size,
            "detail": self.detail,
            "warnings": list(warnings),
            "adapters": list(self.usable_adapters()),
            "threads": self.threads,
            "repacking": self.repacking,
            "chat_template": not self.chat_template_fallback,
        }

    # --- adapters --------------------------------------------------------------------------------

    def usable_adapters(self) -> tuple[str, ...]:
        return tuple(self._adapters)

    def load_adapters(self, specs: Sequence[AdapterSpec]) -> list[str]:
        """Make the loaded adapters exactly ``specs`` (by name and path); returns refusals."""
        warnings: list[str] = []
        self._apply(())  # detach everything before freeing anything
        wanted = {spec.name: spec for spec in specs}
        for name in list(self._adapters):
            if name not in wanted or self._paths.get(name) != wanted[name].path:
                llama_cpp.llama_adapter_lora_free(self._adapters.pop(name))
                del self._paths[name]
        for spec in specs:
            if spec.name in self._adapters:
                continue
            file = Path(spec.path).expanduser()
            if not file.is_file():
                warnings.append(f"adapter '{spec.name}' not loaded: file not found: {file}")
                continue
            with _capture_llama_errors() as errors:
                adapter = llama_cpp.llama_adapter_lora_init(self._llm.model, str(file).encode("utf-8"))
            if not adapter:
                warnings.append(
                    f"adapter '{spec.name}' refused by llama.cpp (built for another model?): {_reason(errors)}"
                )
                continue
            self._adapters[spec.name] = adapter
            self._paths[spec.name] = spec.path
        return warnings

    def _apply(self, active: Sequence[tuple[str, float]]) -> None:
        """Activate ``active`` (name, scale) pairs; reset the KV cache when the set changes."""
        wanted = tuple((name, float(scale)) for name, scale in active if scale != 0.0 and name in self._adapters)
        if wanted == self._active:
            return
        n = len(wanted)
        array = (llama_cpp.llama_adapter_lora_p_ctypes * max(n, 1))(*(self._adapters[name] for name, _ in wanted))
        scales = (ctypes.c_float * max(n, 1))(*(scale for _, scale in wanted))
        if llama_cpp.llama_set_adapters_lora(self._llm.ctx, array if n else None, n, scales if n else None):
            raise RuntimeError(f"llama.cpp refused to set adapters {[name for name, _ in wanted]}")
        self._active = wanted
        self._llm.reset()  # cached KV entries were computed with the previous adapters

    # --- prompting ------------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """The chat-formatted prompt's tokens (generation stops at end-of-generation tokens)."""
        formatted = self._formatter(messages=list(messages))
        return self._llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True)

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        return len(self._prompt(messages))

    def prompt_token_ids(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """The formatted prompt's tokens (a diagnostic: benchmarks feed them to a plain loop)."""
        return self._prompt(messages)

    def reset_cache(self) -> None:
        """Forget the KV cache (a diagnostic: benchmarks measure cold prompts)."""
        self._llm.reset()

    def _grammar(self, gbnf: str) -> llama_cpp.LlamaGrammar:
        grammar = self._grammars.get(gbnf)
        if grammar is None:
            if len(self._grammars) > 64:  # one per (mode, passage count) in practice
                self._grammars.clear()
            grammar = self._grammars[gbnf] = llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False)
        return grammar

    def generate(self, request: GenerationRequest, hooks: AnswerHooks = NO_HOOKS) -> Generation:
        self._apply(request.adapters)
        tokens = self._prompt(request.messages)
        return run_generation(
            self._llm,
            tokens,
            grammar=self._grammar(request.grammar) if request.grammar else None,
            temperature=request.temperature,
            seed=request.seed,
            max_tokens=request.max_tokens,
            on_delta=hooks.on_delta,
            cancel=hooks.cancel,
            utf8_guard=self._utf8_guard,
            on_prompt=hooks.on_prompt,
        )

    def next_token_logits(self, text: str, adapters: Sequence[tuple[str, float]] = ()) -> list[float]:
        """Logits after ``text`` with ``adapters`` active: a diagnostic that shows what an adapter does."""
        self._apply(adapters)
        self._llm.reset()
        self._llm.eval(self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=False))
        # Llama.eval no longer copies logits (sampling happens in llama.cpp): read the last row.
        pointer = llama_cpp.llama_get_logits_ith(self._llm.ctx, -1)
        return pointer[: self._llm.n_vocab()]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._apply(())
        for adapter in self._adapters.values():
            llama_cpp.llama_adapter_lora_free(adapter)
        self._adapters.clear()
        self._llm.close()



class Utf8Guard:
    """Keeps sampled output valid UTF-8 by masking single-byte tokens that would break it.

    Vocabularies carry one token per raw byte (SentencePiece ``<0x..>``), so a model can emit a lone
    continuation byte or a lead byte without its continuation. llama.cpp's grammar counts such
    bytes differently from a UTF-8 decoder, so the guarantee "every output parses" needs valid
    UTF-8 — which a healthy model emits anyway. Cost: one numpy index assignment per token.
    """

    def __init__(self, llm: llama_cpp.Llama) -> None:
        self._byte_token: dict[int, int] = {}  # byte value (>= 0x80) -> token id
        for token in range(llm.n_vocab()):
            piece = llm.detokenize([token])
            if len(piece) == 1 and piece[0] >= 0x80:
                self._byte_token.setdefault(piece[0], token)
        ids = np.array(sorted(self._byte_token.values()), dtype=np.intc)
        self._lone = np.array(
            [t for b, t in self._byte_token.items() if 0x80 <= b <= 0xBF or b in (0xC0, 0xC1) or b >= 0xF5], dtype=np.intc
        )
        self._continuations: dict[tuple[int, int], np.ndarray] = {}
        for lo, hi in ((0x80, 0xBF), (0xA0, 0xBF), (0x80, 0x9F), (0x90, 0xBF), (0x80, 0x8F)):
            self._continuations[(lo, hi)] = np.array([t for b, t in self._byte_token.items() if lo <= b <= hi], dtype=np.intc)
        self.enabled = ids.size > 0
        self._need = 0  # continuation bytes still expected
        self._range = (0x80, 0xBF)  # allowed range of the next continuation byte

    def reset(self) -> None:
        self._need, self._range = 0, (0x80, 0xBF)

    def update(self, piece: bytes) -> None:
        for byte in piece:
            if self._need:
                self._need -= 1
                self._range = (0x80, 0xBF)
            elif 0xC2 <= byte <= 0xDF:
                self._need = 1
            elif 0xE0 <= byte <= 0xEF:
                self._need = 2
                self._range = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F)}.get(byte, (0x80, 0xBF))
            elif 0xF0 <= byte <= 0xF4:
                self._need = 3
                self._range = {0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}.get(byte, (0x80, 0xBF))

    def wants_logits(self) -> bool:
        return self.enabled  # a lone byte is masked on every token

    def __call__(self, input_ids: np.ndarray | None, logits: np.ndarray) -> np.ndarray:
        if self._need:
            allowed = self._continuations[self._range]
            kept = logits[allowed].copy()
            logits[:] = -np.inf
            logits[allowed] = kept
        elif self._lone.size:
            logits[self._lone] = -np.inf
        return logits


def run_generation(
    llm: llama_cpp.Llama,
    prompt: list[int],
    *,
    grammar: llama_cpp.LlamaGrammar | None,
    temperature: float,
    seed: int | None,
    max_tokens: int,
    on_delta: Callable[[str], None] | None,
    cancel: threading.Event | None,
    utf8_guard: Utf8Guard | None = None,
    on_prompt: Callable[[int, int], None] | None = None,
    repeat_penalty: float | None = None,
    presence_penalty: float | None = None,
    frequency_penalty: float | None = None,
    loop_guard: bool | None = None,
    cite_at_sentence_end: bool | None = None,
) -> Generation:
    """Sample up to ``max_tokens`` tokens after ``prompt``, streaming text deltas.

    Penalties (None: this module's defaults, see :data:`REPEAT_PENALTY`) apply to the tokens
    generated so far (llama.cpp's last-n window), not to the prompt: copying words from a passage
    is what a grounded answer does. ``loop_guard`` (None: :data:`LOOP_GUARD`) ends generation as
    soon as the text repeats a sentence or an n-gram (:mod:`ragls.core.loops`), with
    ``finish_reason`` ``"loop"``; the text is returned as generated, the caller cuts it back.
    ``cite_at_sentence_end`` (None: :data:`CITE_AT_SENTENCE_END`; only with a grammar): see
    :class:`CiteAtSentenceEnd`.

    Drives its own token loop (:func:`_sample_tokens`) rather than ``create_completion(stream=True)``,
    which re-detokenizes the whole completion on every token (quadratic; at 300 tokens it spent 90%
    of its time there), or ``Llama.generate``, whose logits processors copy the whole vocabulary's
    logits through NumPy on every token (5-12% of generation time with SmolLM2's 49k tokens; see
    :func:`build_sampler`). Prefix reuse is :func:`read_prompt`'s: the longest common token prefix
    with the previous call stays in the KV cache.

    The prompt is read first by :func:`read_prompt`, in slices, so that a cancel also lands while
    llama.cpp reads a long prompt (seconds on a CPU), not only once tokens flow.
    """
    from ragls.core.loops import LoopWatch

    if seed is not None:
        llm.set_seed(seed)
    else:
        llm.set_seed(random.randint(0, 2**31 - 1))
    vocab = llm._model.vocab
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    parts: list[str] = []
    finish = "length"
    produced = 0
    chain: list = []
    if utf8_guard is not None and utf8_guard.enabled:
        utf8_guard.reset()
        chain.append(utf8_guard)
    citer = None
    if grammar is not None and (CITE_AT_SENTENCE_END if cite_at_sentence_end is None else cite_at_sentence_end):
        citer = CiteAtSentenceEnd.for_model(llm)
        citer.reset(llm.detokenize(prompt).decode("utf-8", "ignore"))
        chain.append(citer)
    if not read_prompt(llm, prompt, cancel, on_prompt):
        return Generation(text="", finish_reason="cancelled", completion_tokens=0)
    sampler = build_sampler(
        llm,
        grammar=grammar,
        temperature=temperature,
        seed=llm._seed,
        repeat_penalty=REPEAT_PENALTY if repeat_penalty is None else repeat_penalty,
        presence_penalty=PRESENCE_PENALTY if presence_penalty is None else presence_penalty,
        frequency_penalty=FREQUENCY_PENALTY if frequency_penalty is None else frequency_penalty,
        processors=chain,
    )
    generator = _sample_tokens(llm, prompt, sampler)
    watch = LoopWatch() if (LOOP_GUARD if loop_guard is None else loop_guard) else None
    try:
        for token in generator:
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                finish = "stop"
                break
            produced += 1
            piece = llm.detokenize([token])
            if utf8_guard is not None:
                utf8_guard.update(piece)
            delta = decoder.decode(piece)
            if delta:
                parts.append(delta)
                if citer is not None:
                    citer.text += delta
                if on_delta is not None:
                    on_delta(delta)
            # Checked after every token: a cancel stops generation within one token.
            if cancel is not None and cancel.is_set():
                finish = "cancelled"
                break
            # A loop never ends by itself before max_tokens: stop at its first repeat.
            if watch is not None and delta and watch.feed(delta):
                finish = "loop"
                break
            if produced >= max_tokens:
                break
    finally:
        generator.close()
        sampler.close()
    tail = decoder.decode(b"", final=True)
    if tail:
        parts.append(tail)
        if on_delta is not None:
            on_delta(tail)
    return Generation(text="".join(parts), finish_reason=finish, completion_tokens=produced)


def _sample_tokens(llm: llama_cpp.Llama, prompt: list[int], sampler) -> Iterator[int]:
    """Evaluate what :func:`read_prompt` left of ``prompt`` (at least its last token, for the
    logits), then sample and evaluate one token at a time — ``Llama.generate``'s inner loop.
    The sampled token is evaluated only when the next one is asked for: the last one never is,
    as in ``generate``."""
    pending = prompt[llm.n_tokens :] or prompt[-1:]
    while True:
        llm.eval(pending)
        token = sampler.sample(llm._ctx, -1)  # llama_sampler_sample also accepts it (grammar state)
        yield token
        pending = [token]


# Layout of llama.cpp's llama_token_data {id, logit, p}: a NumPy view of the candidates array.
_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


class _LogitsHook:
    """The processors as one custom sampler at the head of llama.cpp's chain, editing the
    candidates' logits in place through a cached NumPy view (no copy, no per-token ctypes type),
    and doing nothing on a token where no processor has anything to do."""

    def __init__(self, processors: Sequence, n_vocab: int) -> None:
        self._processors = list(processors)
        self._n_vocab = n_vocab
        self._view: tuple[int, int, np.ndarray] | None = None  # (address, size, logits view)

    def __call__(self, cur_p) -> None:
        active = [p for p in self._processors if p.wants_logits()]
        if not active:
            return
        contents = cur_p.contents
        size = contents.size
        # The head of the chain sees the full vocabulary in token order (id i at position i), the
        # layout the processors index by token id; anything else is left alone.
        if size != self._n_vocab or contents.sorted:
            return
        address = ctypes.addressof(contents.data.contents)
        if self._view is None or self._view[:2] != (address, size):
            buffer = (ctypes.c_char * (size * _TOKEN_DATA.itemsize)).from_address(address)
            self._view = (address, size, np.frombuffer(buffer, dtype=_TOKEN_DATA)["logit"])
        logits = self._view[2]
        for processor in active:
            processor(None, logits)


def build_sampler(
    llm: llama_cpp.Llama,
    *,
    grammar: llama_cpp.LlamaGrammar | None,
    temperature: float,
    seed: int,
    repeat_penalty: float,
    presence_penalty: float,
    frequency_penalty: float,
    processors: Sequence = (),
):
    """llama.cpp's sampler chain as ``Llama.generate`` builds it (same defaults: top-k 40,
    top-p 0.95, min-p 0.05), with ``processors`` first (before the grammar masks what they look
    at) as one cheap hook instead of llama-cpp-python's per-token NumPy record-array copy."""
    from llama_cpp import _internals

    sampler = _internals.LlamaSampler()
    if processors:
        sampler.add_custom(_LogitsHook(processors, llm.n_vocab()))
    sampler.add_penalties(
        n_vocab=llm.n_vocab(),
        penalty_last_n=llm.last_n_tokens_size,
        penalty_repeat=repeat_penalty,
        penalty_freq=frequency_penalty,
        penalty_present=presence_penalty,
    )
    if grammar is not None:
        sampler.add_grammar(llm._model, grammar)
    if temperature <= 0.0:
        sampler.add_greedy()
    else:
        sampler.add_top_k(40)
        sampler.add_typical(1.0, 1)
        sampler.add_top_p(0.95, 1)
        sampler.add_min_p(0.05, 1)
        sampler.add_temp(temperature)
        sampler.add_dist(seed)
    return sampler


# A cancel should land within about this long while the prompt is read. Slices start small and
# double while they finish well within it (up to n_batch): a CPU reads ~100 tokens in that time, a
# GPU reads whole n_batch slices and loses nothing to slicing.
_PROMPT_SLICE_SECONDS = 0.25
_FIRST_PROMPT_SLICE = 32


def read_prompt(
    llm: llama_cpp.Llama,
    prompt: list[int],
    cancel: threading.Event | None,
    on_prompt: Callable[[int, int], None] | None = None,
) -> bool:
    """Evaluate all but the last prompt token into the KV cache, checking ``cancel`` between slices.

    Reuses the longest prefix the cache already holds (as ``Llama.generate`` would); ``generate``
    then finds everything but the last token cached and evaluates only that one, which gives it the
    logits to sample from. ``on_prompt(done, total)`` reports progress after each slice.
    Returns False when cancelled (the cache then holds a prefix of the prompt: still valid).
    """
    end = len(prompt) - 1
    if end <= 0:
        return not (cancel is not None and cancel.is_set())
    cached = llm.n_tokens
    common = 0
    for held, wanted in zip(llm._input_ids[:cached].tolist(), prompt[:end]):
        if held != wanted:
            break
        common += 1
    if common < cached and not llm._ctx.kv_cache_seq_rm(-1, common, -1):
        llm.reset()  # partial removal unsupported (recurrent models): read the whole prompt
        common = 0
    llm.n_tokens = common
    step = min(_FIRST_PROMPT_SLICE, llm.n_batch)
    done = common
    while done < end:
        if cancel is not None and cancel.is_set():
            return False
        started = time.perf_counter()
        llm.eval(prompt[done : min(end, done + step)])
        done = llm.n_tokens
        if on_prompt is not None:
            on_prompt(done, end + 1)
        if time.perf_counter() - started < _PROMPT_SLICE_SECONDS / 2:
            step = min(step * 2, llm.n_batch)
    return not (cancel is not None and cancel.is_set())


import re  # noqa: E402 - used only by the generation helpers below
import weakref  # noqa: E402

# Sampling defaults of run_generation, measured on SmolLM2-135M over the k8s docs
# (benchmarks/bench_answer_form.py, docs/BENCHMARKS.md). The loop guard does the real work of
# ending loops; a penalty would also push the model off the citation markers and words a sentence
# needs again, so it stays mild.
REPEAT_PENALTY = 1.0
PRESENCE_PENALTY = 0.0
FREQUENCY_PENALTY = 0.0
LOOP_GUARD = True
CITE_AT_SENTENCE_END = True


class CiteAtSentenceEnd:
    """Logits processor: where the model would end a sentence, it opens a citation marker instead.

    The answer grammar ends every sentence with ``[n].`` and lets no word end in ``.``, ``!`` or
    ``?``. A small model does not plan for that: it wants ``... object.`` and then the next
    sentence or the end, both of which the grammar masks, so it glues on whatever is still allowed
    (``object.userasset - 1-2-3-...``, ``allocation.yaml``). This processor turns that wish into
    the citation: when the model's most likely next token ends a sentence (a period-like token, a
    line break or end-of-generation) and the current sentence has words enough, the marker's
    opening bracket becomes the most likely token; the grammar then lets the model pick the passage
    number and the closing ``].``. Not inside backticks, where a period belongs to a name
    (``spec.type``), nor inside a marker, nor after a word that the prompt continues with a period
    inside it: an answer copies its passages, and ``Kubernetes v1`` followed by ``.`` is the start
    of ``v1.33`` there (run 4 of benchmarks/bench_tune.py: "In Kubernetes v1 [1]." ended 2 of 30
    answers), as ``1.5``, ``k8s.io`` or ``kubectl.kubernetes.io`` would be.
    """

    def __init__(self, llm: llama_cpp.Llama, min_words: int = 3) -> None:
        vocab = llm._model.vocab
        ends = []
        for token in range(llm.n_vocab()):
            text = llm.detokenize([token]).decode("utf-8", "ignore")
            stripped = text.strip()
            if stripped in _SENTENCE_END_PIECES or (text and not stripped and "\n" in text) or llama_cpp.llama_vocab_is_eog(vocab, token):
                ends.append(token)
        self._ends = np.array(ends, dtype=np.intc)
        self._open_after_space = _single_token(llm, "[")
        self._open = _single_token(llm, " [")
        self.enabled = self._ends.size > 0 and self._open is not None and self._open_after_space is not None
        self.min_words = min_words
        self.text = ""
        self.prompt = ""

    @classmethod
    def for_model(cls, llm: llama_cpp.Llama) -> "CiteAtSentenceEnd":
        """One per model (the vocabulary scan takes a moment), kept as long as the model lives."""
        found = _CITERS.get(llm)
        if found is None:
            found = _CITERS[llm] = cls(llm)
        return found

    def reset(self, prompt: str = "") -> None:
        self.text = ""
        self.prompt = prompt

    def due(self) -> bool:
        """Whether a sentence end here should become a citation (pure; on ``self.text`` and
        ``self.prompt``)."""
        return self._sentence_may_end() and not self._period_continues_word()

    def _sentence_may_end(self) -> bool:
        """The cheap half of :meth:`due`, checked on every token: not inside a marker or backticks,
        and the sentence has words enough."""
        text = self.text
        if text.rstrip().endswith(("]", "[")) or re.search(r"\[\d*$", text):
            return False
        sentence = text[text.rfind("].") + 2 :] if "]." in text else text
        if sentence.count("`") % 2:
            return False
        return len(sentence.split()) >= self.min_words

    def _period_continues_word(self) -> bool:
        """Whether the word being written occurs in the prompt with a period inside it right
        after what is written so far (``v1`` in ``v1.33``)."""
        if not self.prompt or self.text[-1:].isspace():
            return False
        word = self.text.rsplit(None, 1)[-1].lstrip("(\"'*")
        if not word or not word[-1].isalnum():
            return False
        return re.search(rf"(?<![\w.]){re.escape(word)}\.[\w]", self.prompt) is not None

    def wants_logits(self) -> bool:
        return self.enabled and self._sentence_may_end()

    def __call__(self, input_ids: np.ndarray | None, logits: np.ndarray) -> np.ndarray:
        if not self.enabled or not self._sentence_may_end():
            return logits
        top = float(logits.max())
        if float(logits[self._ends].max()) < top:
            return logits
        # (the prompt is searched only here, where the model wants to end the sentence)
        if self._period_continues_word():
            return logits
        token = self._open_after_space if self.text.endswith((" ", "\n")) else self._open
        logits[token] = top + 1.0
        return logits


# Token texts (stripped) that end a sentence.
_SENTENCE_END_PIECES = frozenset({".", "!", "?", "...", ".)", '."', ".'", ".*", ".`"})
_CITERS: "weakref.WeakKeyDictionary[llama_cpp.Llama, CiteAtSentenceEnd]" = weakref.WeakKeyDictionary()


def _single_token(llm: llama_cpp.Llama, text: str) -> int | None:
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
    return tokens[0] if len(tokens) == 1 else None
