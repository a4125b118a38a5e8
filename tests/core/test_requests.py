"""core/requests.py: the values one answer travels with."""

from __future__ import annotations

import pickle
import threading

import pytest

from ragls.core.requests import NO_HOOKS, AnswerHooks, AnswerRequest, GenerationRequest


@pytest.mark.parametrize(
    "focus, query, model_question",
    [
        (None, "How are retries set?", "How are retries set?"),
        ("retry_policy", "How are retries set? retry_policy", "How are retries set?\n\n(About: retry_policy)"),
        ("", "How are retries set?", "How are retries set?"),
    ],
)
def test_focus_joins_the_query_and_is_named_apart_for_the_model(focus, query, model_question) -> None:
    request = AnswerRequest("How are retries set?", focus=focus)
    assert request.query == query
    assert request.model_question == model_question


def test_defaults_leave_every_choice_to_the_settings() -> None:
    request = AnswerRequest("q")
    assert (request.passages, request.adapters, request.temperature, request.seed, request.max_tokens) == (None,) * 5
    assert request.mode == "answer"
    with pytest.raises(AttributeError):
        request.question = "other"  # frozen: a request is a value


def test_hooks_tell_a_cancel() -> None:
    assert not NO_HOOKS.cancelled()
    event = threading.Event()
    hooks = AnswerHooks(cancel=event)
    assert not hooks.cancelled()
    event.set()
    assert hooks.cancelled()


def test_a_generation_request_crosses_the_process_boundary_as_it_is() -> None:
    request = GenerationRequest(
        messages=({"role": "system", "content": "s"}, {"role": "user", "content": "u"}),
        grammar="root ::= \"x\"",
        adapters=(("terse", 0.5),),
        temperature=0.2,
        seed=None,
        max_tokens=64,
    )
    assert pickle.loads(pickle.dumps(request)) == request
