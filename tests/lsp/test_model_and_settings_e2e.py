"""The server with a real tiny llama.cpp model, a broken model, and settings from every source."""

from __future__ import annotations

import sys
import uuid

from lsprotocol import types

import pytest_lsp
from pytest_lsp import ClientServerConfig, LanguageClient

QUESTION = "What is the backoff of the retry_policy?"


async def test_model_answer_streams_token_deltas(model_client, helpers):
    client = model_client

    async def ready():
        status = await helpers.request(client, "ragls/status", {})
        assert status["model"]["state"] != "failed", status["model"]
        return status["model"]["state"] == "ready"

    await helpers.wait_until(ready, timeout=30)
    token = f"ask-{uuid.uuid4()}"
    client.progress_reports[token] = []
    result = await helpers.ask(client, QUESTION, workDoneToken=token)
    assert result["source"].startswith("model:"), result
    reports = [r for r in client.progress_reports[token] if isinstance(r, types.WorkDoneProgressReport)]
    deltas = [r.message for r in reports if r.message]
    assert len(deltas) >= 2  # token by token, not one final block
    assert isinstance(client.progress_reports[token][-1], types.WorkDoneProgressEnd)
    # While the model reads the passages: reports with a rising percentage and no text, all of
    # them before the first text delta (the messages stay the answer text alone).
    reading = [r.percentage for r in reports if r.message is None]
    assert len(reading) >= 2 and reading == sorted(reading) and all(0 < p <= 100 for p in reading), reading
    first_text = next(i for i, r in enumerate(reports) if r.message)
    assert all(r.message is None for r in reports[:first_text]) and all(r.message for r in reports[first_text:])


async def test_broken_model_warns_once_and_answers_from_retrieval(broken_model_client, workspace, helpers):
    client = broken_model_client

    async def failed():
        status = await helpers.request(client, "ragls/status", {})
        return status["model"]["state"] == "failed" and status

    status = await helpers.wait_until(failed, timeout=30)
    assert status["model"]["detail"]

    async def warned():
        return [m for m in client.messages if "model" in m.message and m.type == types.MessageType.Warning]

    assert len(await helpers.wait_until(warned, timeout=5)) == 1
    await helpers.request(client, "ragls/status", {})
    assert len(await warned()) == 1  # once, not on every status request
    result = await helpers.ask(client, QUESTION)
    assert result["source"] == "extractive" and not result["abstained"]
    # the invalid settings were reported and fell back to their defaults
    texts = [m.message for m in client.messages]
    assert any("retrieval.passages" in t for t in texts), texts
    assert any("colour" in t for t in texts), texts


async def test_configuration_pull_and_change(client, workspace, helpers):
    session = (workspace / "src" / "session.py").as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=session, language_id="python", version=1, text=helpers.SESSION_PY)
        )
    )
    position = types.Position(line=7, character=helpers.SESSION_PY.splitlines()[7].index("retry_policy") + 1)
    hover = types.HoverParams(text_document=types.TextDocumentIdentifier(uri=session), position=position)
    assert await client.text_document_hover_async(hover) is not None
    # pushed settings (VS Code style: the section inside `settings`)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"ragls": {"hover": {"enabled": False}}}))
    await helpers.wait_until(lambda: _is_none(client.text_document_hover_async(hover)), timeout=3)
    # pulled settings (Neovim style: a null notification, then workspace/configuration)
    client.set_configuration({"hover": {"enabled": True}}, section="ragls")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await helpers.wait_until(lambda: _is_not_none(client.text_document_hover_async(hover)), timeout=3)


async def _is_none(awaitable):
    return (await awaitable) is None


async def _is_not_none(awaitable):
    return (await awaitable) is not None


# `ragls --stdio --model ...` as the README shows it: the flags are the server's starting settings.
MISSING_MODEL = "/nonexistent/ragls-test/from-the-command-line.gguf"
SERVER_WITH_FLAGS = [sys.executable, "-m", "ragls", "--stdio", "--model", MISSING_MODEL, "--max-tokens", "64"]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_WITH_FLAGS))
async def flags_client(lsp_client: LanguageClient, workspace, index_parent, helpers):
    capabilities = pytest_lsp.client_capabilities("visual_studio_code")
    await lsp_client.initialize_session(helpers.init_params(capabilities, [workspace], index_parent))
    await helpers.wait_indexed(lsp_client)
    yield
    await lsp_client.shutdown_session()


async def test_model_flags_of_stdio_reach_the_server(flags_client, helpers):
    client = flags_client

    async def failed():
        status = await helpers.request(client, "ragls/status", {})
        return status["model"]["state"] == "failed" and status["model"]

    model = await helpers.wait_until(failed, timeout=30)
    assert model["path"] == MISSING_MODEL and model["detail"], model
    result = await helpers.ask(client, QUESTION)
    assert result["source"] == "extractive"  # an unusable model from the command line: answers still come
