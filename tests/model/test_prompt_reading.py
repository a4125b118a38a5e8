"""Reading the prompt in slices (cancellable) with a real llama.cpp model (tiny, random weights)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import pytest

from ragls.model.llama_backend import LlamaBackend, run_generation
from ragls.settings import ModelSettings

if TYPE_CHECKING:
    from conftest import ModelFiles


@pytest.fixture(scope="module")
def backend(model_files: ModelFiles):
    settings = ModelSettings(path=str(model_files.model), context_size=2048, threads=1, seed=7, grounded_guard=False)
    backend, warnings = LlamaBackend.load(settings, logging.getLogger("ragls.test.prompt"))
    assert warnings == []
    yield backend
    backend.close()


def prompt_of(backend: LlamaBackend, words: int) -> list[int]:
    text = " ".join(f"passage{i % 37} retries backoff" for i in range(words))
    return backend._llm.tokenize(text.encode(), add_bos=True, special=False)


def generate(backend: LlamaBackend, prompt: list[int], cancel=None, on_prompt=None):
    return run_generation(
        backend._llm, prompt, grammar=None, temperature=0.0, seed=1, max_tokens=24, on_delta=None,
        cancel=cancel, on_prompt=on_prompt,
    )


def plain_generation(backend: LlamaBackend, prompt: list[int], count: int) -> list[int]:
    """llama-cpp-python on its own: reset, then Llama.generate (greedy)."""
    llm = backend._llm
    llm.reset()
    out = []
    for token in llm.generate(prompt, temp=0.0):
        out.append(token)
        if len(out) == count:
            break
    return out


def test_sliced_reading_gives_the_same_answer_as_llama_cpp_alone(backend: LlamaBackend) -> None:
    prompt = prompt_of(backend, 40)
    assert len(prompt) > 300  # several slices
    progress: list[tuple[int, int]] = []
    ours = generate(backend, prompt, on_prompt=lambda done, total: progress.append((done, total)))
    assert ours.finish_reason in ("length", "stop") and ours.completion_tokens > 0
    reference = plain_generation(backend, prompt, ours.completion_tokens)
    assert backend._llm.detokenize(reference).decode("utf-8", errors="replace") == ours.text
    # progress rises to all but the last token (which generate() reads to get the logits)
    assert len(progress) >= 2 and [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert progress[-1] == (len(prompt) - 1, len(prompt))


def test_cancel_lands_while_the_prompt_is_read(backend: LlamaBackend) -> None:
    prompt = prompt_of(backend, 40)
    backend._llm.reset()
    cancel = threading.Event()
    calls: list[int] = []

    def on_prompt(done: int, total: int) -> None:
        calls.append(done)
        cancel.set()  # the user presses Cancel while the first slice is read

    result = generate(backend, prompt, cancel=cancel, on_prompt=on_prompt)
    assert result.finish_reason == "cancelled" and result.completion_tokens == 0 and result.text == ""
    assert len(calls) == 1 and backend._llm.n_tokens == calls[0] < len(prompt) - 1
    # The half-read prompt stays in the cache as a valid prefix: the next answer reuses it and is
    # exactly what a fresh model says.
    again = generate(backend, prompt)
    reference = plain_generation(backend, prompt, again.completion_tokens)
    assert backend._llm.detokenize(reference).decode("utf-8", errors="replace") == again.text


def test_a_different_prompt_after_a_cached_one_is_read_from_the_common_prefix(backend: LlamaBackend) -> None:
    first = prompt_of(backend, 36)
    second = first[: len(first) // 2] + prompt_of(backend, 12)[1:]
    generate(backend, first)
    progress: list[int] = []
    ours = generate(backend, second, on_prompt=lambda done, total: progress.append(done))
    assert progress and progress[0] > len(first) // 2  # the shared half was not read again
    reference = plain_generation(backend, second, ours.completion_tokens)
    assert backend._llm.detokenize(reference).decode("utf-8", errors="replace") == ours.text
