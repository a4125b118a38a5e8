"""Answerer's fallbacks around the model (a stand-in host: the fallback logic, not llama.cpp, is
under test here; the real model's crashes are in test_real_models.py)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from ragls.answering import Answerer
from ragls.core.types import Answer, SearchResult
from ragls.settings import Settings


class StandInHost:
    def __init__(self, answer: Answer) -> None:
        self._answer = answer

    def status(self):
        return SimpleNamespace(state="ready")

    def answer(self, *args, **kwargs) -> Answer:
        return self._answer


def answer_with(model_answer: Answer, hits, cancel: threading.Event | None = None) -> Answer:
    answerer = Answerer(lambda: [], Settings(), StandInHost(model_answer))  # type: ignore[arg-type]
    retrieved = SearchResult(query="How many retries?", hits=tuple(hits), covered=True)
    return answerer.ask("How many retries?", retrieved=retrieved, cancel=cancel)


def test_an_empty_model_answer_falls_back_to_the_passages(hits) -> None:
    empty = Answer(text="", citations=(), abstained=False, source="model:x.gguf", warnings=("the model started repeating itself",))
    answer = answer_with(empty, hits)
    assert answer.source == "extractive" and answer.text and answer.citations
    assert any("no complete cited sentence" in w for w in answer.warnings)


def test_a_model_answer_with_text_or_an_abstention_is_kept(hits) -> None:
    said = Answer(text="Three times [1].", citations=(), abstained=False, source="model:x.gguf")
    assert answer_with(said, hits) is said
    declined = Answer(text="The workspace does not cover this question.", citations=(), abstained=True, source="model:x.gguf")
    assert answer_with(declined, hits) is declined


def test_a_cancelled_empty_answer_stays_cancelled(hits) -> None:
    cancel = threading.Event()
    cancel.set()
    empty = Answer(text="", citations=(), abstained=False, source="model:x.gguf", warnings=("cancelled",))
    assert answer_with(empty, hits, cancel) is empty
