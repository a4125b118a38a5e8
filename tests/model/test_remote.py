"""The remote backend end to end against llama-cpp-python's own OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from typing import TYPE_CHECKING

import pytest

from ragls.core.requests import AnswerHooks, AnswerRequest
from ragls.core import grammar
from ragls.core.types import Hit
from ragls.model import ModelHost, ModelUnavailable
from ragls.model.resources import load_mode
from ragls.settings import AdapterSpec, ModelSettings, RemoteSettings

if TYPE_CHECKING:
    from conftest import ModelFiles


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(model_files: ModelFiles, tmp_path_factory: pytest.TempPathFactory):
    """A real llama_cpp.server serving the tiny model as 'tiny' and, with adapter A, as 'terse'."""
    port = _free_port()
    config = {
        "host": "127.0.0.1",
        "port": port,
        "models": [
            {"model": str(model_files.model), "model_alias": "tiny", "n_ctx": 1024, "n_threads": 1, "verbose": False},
            {"model": str(model_files.model), "model_alias": "terse", "n_ctx": 1024, "n_threads": 1,
             "lora_path": str(model_files.lora_a), "verbose": False},
        ],
    }
    config_file = tmp_path_factory.mktemp("server") / "config.json"
    config_file.write_text(json.dumps(config))
    log = config_file.with_name("server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--config_file", str(config_file)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/v1/models", timeout=1).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"llama_cpp.server did not start: {config_file.with_name('server.log').read_text()[-2000:]}")
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(10)
    log.close()


def remote_settings(url: str, files: ModelFiles) -> ModelSettings:
    return ModelSettings(
        grounded_guard=False,  # random weights: the guard would remove every sentence
        context_size=1024,
        max_tokens=120,
        temperature=1.0,
        remote=RemoteSettings(url=url, model="tiny"),
        adapters=(AdapterSpec("terse", str(files.lora_a)), AdapterSpec("missing", "/nope.gguf")),
    )


def test_remote_answers_stream_with_grammar_and_adapters(server: str, model_files: ModelFiles, hits: list[Hit]) -> None:
    host = ModelHost(remote_settings(server, model_files))
    host.start()
    assert host.wait_ready(30), host.status()
    status = host.status()
    assert "llama-cpp-python" in status.detail and [a.name for a in status.adapters] == ["terse"]
    assert any("'missing'" in w for w in status.warnings)
    not_covered = load_mode("answer").texts.not_covered
    streamed: list[list[str]] = []
    for seed in range(3):
        deltas: list[str] = []
        answer = host.answer(AnswerRequest("How many retries?", seed=seed, temperature=2.0), hits, AnswerHooks(on_delta=deltas.append))
        streamed.append(deltas)
        assert answer.source == "remote:tiny"
        # The server applied our grammar: a complete answer parses and cites only given passages.
        if answer.text and not answer.abstained:
            assert grammar.parses(answer.text, passage_count=3, not_covered=not_covered)
            assert {c.id for c in answer.citations} <= {1, 2, 3}
    assert all(len(d) > 1 for d in streamed)

    def greedy(adapters: list[tuple[str, float]]) -> str:
        deltas: list[str] = []
        host.answer(AnswerRequest("What is the retry count?", adapters=adapters, temperature=0.0, max_tokens=30), hits, AnswerHooks(on_delta=deltas.append))
        return "".join(deltas)

    remote_base = greedy([])
    assert greedy([("terse", 1.0)]) != remote_base  # the adapter maps to the 'terse' model
    resources = load_mode("answer")
    plan = host._plan(host._backend, "What is the retry count?", hits, resources, 30)  # as the remote request was built
    host.close()

    # Same model, prompt, grammar and greedy sampling, in this process and with plain sampling (the
    # local backend's own steering — UTF-8 guard, citation at sentence end, loop guard — is what
    # the server lacks): the same text, so the server got our messages and grammar.
    import logging

    from ragls.model.llama_backend import LlamaBackend, run_generation

    settings = ModelSettings(path=str(model_files.model), context_size=1024, max_tokens=120, threads=1, grounded_guard=False)
    local, _ = LlamaBackend.load(settings, logging.getLogger("ragls.test"))
    gbnf = grammar.specialise(resources.grammar_template, passage_count=len(plan.passages), not_covered=resources.texts.not_covered, bounds=resources.bounds)
    generation = run_generation(
        local._llm, local._prompt(plan.messages()), grammar=local._grammar(gbnf), temperature=0.0, seed=None,
        max_tokens=30, on_delta=None, cancel=None, cite_at_sentence_end=False, loop_guard=False,
    )
    local.close()
    assert len(os.path.commonprefix([generation.text, remote_base])) >= 10


def test_remote_unreachable_fails_cleanly(model_files: ModelFiles, hits: list[Hit]) -> None:
    host = ModelHost(ModelSettings(remote=RemoteSettings(url=f"http://127.0.0.1:{_free_port()}")))
    host.start()
    assert not host.wait_ready(30)
    assert host.status().state == "failed" and "not reachable" in host.status().detail
    with pytest.raises(ModelUnavailable):
        host.answer(AnswerRequest("q"), hits)
