"""``ask`` over MCP with a model configured by the same flags as ``ragls ask``: a real (tiny,
random-weight) llama.cpp model in its own process, and a model that cannot be loaded."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _load(name: str, path: Path):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


h = _load("ragls_tests_mcp_helpers", Path(__file__).parent / "helpers.py")
QUESTION = "How often is a failed request sent again?"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    factory = _load("ragls_tests_gguf_factory", Path(__file__).parent.parent / "model" / "gguf_factory.py")
    return factory.write_model(tmp_path_factory.mktemp("mcp-models") / "tiny.gguf")


async def _model_state(session, wanted: str, timeout: float = 60.0) -> dict:
    async def settled():
        model = (await h.call(session, "status"))["model"]
        return model if model["state"] == wanted else None

    return await h.wait_until(settled, timeout, interval=0.1)


async def test_ask_answers_in_the_models_words_when_one_is_configured(tmp_path, tiny_model):
    workspace = h.write_workspace(tmp_path / "ws")
    flags = ("--model", str(tiny_model), "--ctx-size", "1024", "--max-tokens", "32", "--gpu-layers", "0", "--seed", "1")
    async with h.mcp_session(workspace, index_parent=tmp_path / "indexes", errlog=tmp_path / "err.log", extra_args=flags) as session:
        model = await _model_state(session, "ready")
        answer = await h.call(session, "ask", {"question": QUESTION})
        uncovered = await h.call(session, "ask", {"question": "What is the boiling point of tungsten in kelvin?"})
    assert model["path"] == str(tiny_model)
    # The model was asked: its answer, or — random weights write nonsense, which the grounded
    # guard removes — the passages' answer with the reason.
    assert answer["source"].startswith("model:") or any("answered from the passages" in w for w in answer["warnings"]), answer
    for citation in answer["citations"]:  # whatever a random model says, a citation is a real range
        assert h.lines_of(workspace / citation["path"], citation["startLine"], citation["endLine"]).strip()
    assert uncovered["notCovered"] is True and uncovered["source"] == "extractive"  # no model asked


async def test_an_unusable_model_leaves_extractive_answers(tmp_path):
    workspace = h.write_workspace(tmp_path / "ws")
    missing = str(tmp_path / "no-such-model.gguf")
    async with h.mcp_session(workspace, index_parent=tmp_path / "indexes", errlog=tmp_path / "err.log", extra_args=("--model", missing)) as session:
        model = await _model_state(session, "failed")
        answer = await h.call(session, "ask", {"question": QUESTION})
    assert model["path"] == missing and model["detail"]
    assert answer["source"] == "extractive" and not answer["notCovered"] and answer["citations"]
