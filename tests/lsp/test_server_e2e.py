"""The real server over stdio: hover, ask, streaming, live index, buffers, errors, multi-root.

Each test runs with VS Code's and with Neovim's recorded client capabilities (see conftest).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

RETRY_QUESTION = "What is the backoff of the retry_policy?"
FLUX_QUESTION = "How much power does the flux capacitor need?"


def line_no(text: str, needle: str) -> int:
    """1-based number of the first line of ``text`` containing ``needle``."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def open_document(client, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="markdown" if path.suffix == ".md" else "python", version=version, text=text if text is not None else path.read_text())
        )
    )
    return uri


async def hover_at(client, uri: str, line: int, character: int) -> types.Hover | None:
    return await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character))
    )


def cited(result: dict, workspace: Path, rel: str) -> list[dict]:
    uri = (workspace / rel).as_uri()
    return [c for c in result["citations"] if c["uri"] == uri]


async def test_hover_on_documented_symbol_cites_file_and_lines(client, workspace, helpers):
    uri = open_document(client, workspace / "src" / "session.py")
    # `self.retry_policy = retry_policy` on line 8 (0-based 7); the cursor sits inside "retry_policy"
    line = helpers.SESSION_PY.splitlines()[7]
    character = line.index("retry_policy") + 3
    result = await hover_at(client, uri, 7, character)
    assert result is not None
    markdown = result.contents.value
    assert result.contents.kind == types.MarkupKind.Markdown
    expected_line = line_no(helpers.RETRY_DOC, "decides how often")
    doc_uri = (workspace / "docs" / "retry.md").as_uri()
    assert f"(docs/retry.md:{expected_line}-{expected_line})" not in markdown  # the label is the link text
    assert f"[docs/retry.md:{expected_line}-{expected_line}]({doc_uri}#L{expected_line})" in markdown
    assert "retry_policy" in markdown.split("**Sources**")[0]  # the explanation comes first
    # the hover range is the identifier under the cursor
    assert result.range.start.line == result.range.end.line == 7
    assert line[result.range.start.character : result.range.end.character].endswith("retry_policy")


async def test_hover_is_null_for_keywords_common_words_and_unknown_names(client, workspace, helpers):
    uri = open_document(client, workspace / "src" / "session.py")
    lines = helpers.SESSION_PY.splitlines()
    for line, word in [(6, "def"), (10, "return"), (3, "class"), (0, "HTTP")]:
        assert await hover_at(client, uri, line, lines[line].index(word) + 1) is None, word
    # a name the workspace says nothing useful about
    (workspace / "src" / "misc.py").write_text("zebra_quux_unknown = 1\n")
    misc = open_document(client, workspace / "src" / "misc.py")
    assert await hover_at(client, misc, 0, 3) is None
    # whitespace and past the end of the document
    assert await hover_at(client, uri, 1, 0) is None
    assert await hover_at(client, uri, 500, 0) is None


async def test_ask_streams_the_answer_and_returns_exact_citations(client, workspace, helpers):
    token = f"ask-{uuid.uuid4()}"
    client.progress_reports[token] = []  # a client-chosen token: the client knows it already
    result = await helpers.ask(client, RETRY_QUESTION, workDoneToken=token)
    assert not result["abstained"] and result["indexComplete"] is True
    reports = client.progress_reports[token]
    assert isinstance(reports[0], types.WorkDoneProgressBegin) and reports[0].cancellable
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)
    deltas = [r.message for r in reports if isinstance(r, types.WorkDoneProgressReport)]
    assert deltas and "".join(deltas) == result["answer"]
    citations = cited(result, workspace, "docs/retry.md")
    assert citations, result
    lines = helpers.RETRY_DOC.splitlines()
    for citation in citations:
        start, end = citation["range"]["start"], citation["range"]["end"]
        assert start["character"] == 0
        assert end["character"] == len(lines[end["line"]])  # ASCII: UTF-16 length == len()
        assert f"[{citation['id']}]" in result["answer"]
    # the backoff sentence is inside one of the cited ranges
    backoff = line_no(helpers.RETRY_DOC, "backoff doubles") - 1
    assert any(c["range"]["start"]["line"] <= backoff <= c["range"]["end"]["line"] for c in citations) or any(
        "backoff" in lines[c["range"]["start"]["line"]] for c in citations
    )


async def test_ask_through_execute_command(client, workspace, helpers):
    result = helpers.plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="ragls.ask", arguments=[{"question": RETRY_QUESTION}])
        )
    )
    assert cited(result, workspace, "docs/retry.md")
    status = helpers.plain(await client.workspace_execute_command_async(types.ExecuteCommandParams(command="ragls.status")))
    assert status["protocolVersion"] == 1 and status["folders"][0]["files"] == 2


async def test_ask_about_the_symbol_at_a_position(client, workspace, helpers):
    uri = open_document(client, workspace / "src" / "session.py")
    line = helpers.SESSION_PY.splitlines()[10]
    result = await helpers.ask(
        client,
        "What does this mean?",
        textDocument={"uri": uri},
        position={"line": 10, "character": line.index("retry_policy") + 2},
    )
    assert cited(result, workspace, "docs/retry.md"), result


async def test_new_file_is_found_within_a_second_and_gone_after_delete(client, workspace, helpers):
    before = await helpers.ask(client, FLUX_QUESTION)
    assert not cited(before, workspace, "docs/guide.md")
    path = workspace / "docs" / "guide.md"
    path.write_text(helpers.GUIDE_DOC)

    async def found():
        result = await helpers.ask(client, FLUX_QUESTION)
        return cited(result, workspace, "docs/guide.md")

    await helpers.wait_until(found, timeout=1.0, interval=0.02)
    path.unlink()

    async def gone():
        return not await found()

    await helpers.wait_until(gone, timeout=1.0, interval=0.02)


async def test_atomic_save_replaces_the_content(client, workspace, helpers):
    target = workspace / "docs" / "retry.md"
    new_text = helpers.RETRY_DOC.replace("The backoff doubles after every failed attempt.", "Each retry waits for a random jitter interval of flux.")
    tmp = workspace / "docs" / ".retry.md.tmp1234"
    tmp.write_text(new_text)
    os.replace(tmp, target)  # what editors do on save

    async def new_content_found():
        result = await helpers.ask(client, "How long is the random jitter interval of each retry?")
        return [c for c in cited(result, workspace, "docs/retry.md") if "jitter" in c["snippet"]]

    await helpers.wait_until(new_content_found, timeout=2.0)
    status = await helpers.request(client, "ragls/status", {})
    assert status["folders"][0]["files"] == 2  # the temp file never made it into the index


async def test_unsaved_buffer_edits_move_citations_and_close_restores_disk(client, workspace, helpers):
    path = workspace / "docs" / "retry.md"
    uri = open_document(client, path)
    disk_line = line_no(helpers.RETRY_DOC, "decides how often")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)),
                    text="Draft notes.\n\nMore draft.\n",
                )
            ],
        )
    )
    session = open_document(client, workspace / "src" / "session.py")
    hover_line = helpers.SESSION_PY.splitlines()[7]

    async def cites(line: int):
        result = await hover_at(client, session, 7, hover_line.index("retry_policy") + 1)
        return result is not None and f"[docs/retry.md:{line}-{line}]" in result.contents.value

    await helpers.wait_until(lambda: cites(disk_line + 3), timeout=3.0)
    assert path.read_text() == helpers.RETRY_DOC  # nothing was written to disk
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    await helpers.wait_until(lambda: cites(disk_line), timeout=3.0)


async def test_malformed_params_get_an_error_and_the_server_keeps_serving(client, helpers):
    for params in [{}, {"question": ""}, {"question": 5}, {"question": "x", "position": {"line": 1, "character": 0}}, ["not", "an", "object"], {"question": "x", "maxPassages": "many"}]:
        with pytest.raises(JsonRpcException) as info:
            await helpers.request(client, "ragls/ask", params)
        assert info.value.code == -32602, params
    with pytest.raises(JsonRpcException) as info:  # a standard request whose params do not parse
        await helpers.raw_request(client, "textDocument/hover", {"textDocument": {"uri": "file:///x.py"}})
    assert info.value.code == -32602
    with pytest.raises(JsonRpcException) as info:
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command="ragls.ask", arguments=[{"nope": 1}]))
    assert info.value.code == -32602
    result = await helpers.ask(client, RETRY_QUESTION)
    assert not result["abstained"]


async def test_cancel_request_and_progress_cancel(slow_client, helpers):
    client = slow_client

    async def ended(token):
        reports = client.progress_reports[token]
        return reports and isinstance(reports[-1], types.WorkDoneProgressEnd)

    async def begun(token):
        return client.progress_reports[token]

    # $/cancelRequest: the error comes back and the answer's work stops (its progress ends)
    msg_id, token = str(uuid.uuid4()), f"ask-{uuid.uuid4()}"
    client.progress_reports[token] = []
    # pytest-lsp's send_request_async is a coroutine: it sends only once scheduled
    pending = asyncio.ensure_future(
        client.protocol.send_request_async("ragls/ask", {"question": RETRY_QUESTION, "workDoneToken": token}, msg_id=msg_id)
    )
    await helpers.wait_until(lambda: begun(token), timeout=5)
    client.protocol.notify("$/cancelRequest", types.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as info:
        await asyncio.wait_for(pending, 5)
    assert info.value.code == -32800
    await helpers.wait_until(lambda: ended(token), timeout=2)

    # the progress bar's cancel button
    token = f"ask-{uuid.uuid4()}"
    client.progress_reports[token] = []
    pending = asyncio.ensure_future(helpers.ask(client, RETRY_QUESTION, workDoneToken=token))
    await helpers.wait_until(lambda: begun(token), timeout=5)
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    with pytest.raises(JsonRpcException) as info:
        await asyncio.wait_for(pending, 5)
    assert info.value.code == -32800
    assert await ended(token)

    # the command form, cancelled by $/cancelRequest of the executeCommand request
    msg_id, token = str(uuid.uuid4()), f"ask-{uuid.uuid4()}"
    client.progress_reports[token] = []
    pending = asyncio.ensure_future(
        client.protocol.send_request_async(
            "workspace/executeCommand",
            types.ExecuteCommandParams(command="ragls.ask", arguments=[{"question": "x", "workDoneToken": token}]),
            msg_id=msg_id,
        )
    )
    await helpers.wait_until(lambda: begun(token), timeout=5)
    client.protocol.notify("$/cancelRequest", types.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as info:
        await asyncio.wait_for(pending, 5)
    assert info.value.code == -32800
    await helpers.wait_until(lambda: ended(token), timeout=2)  # the inner work stopped too

    # still serving
    status = await helpers.request(client, "ragls/status", {})
    assert status["folders"][0]["files"] == 2


async def test_multi_root_and_folder_changes(multi_root_client, tmp_path, helpers):
    client = multi_root_client
    first, second = tmp_path / "ws", tmp_path / "second"
    status = await helpers.request(client, "ragls/status", {})
    assert {f["uri"] for f in status["folders"]} == {first.as_uri(), second.as_uri()}
    assert len({f["indexDir"] for f in status["folders"]}) == 2  # one index per folder
    result = await helpers.ask(client, FLUX_QUESTION)
    assert cited(result, second, "docs/guide.md")
    result = await helpers.ask(client, RETRY_QUESTION)
    assert cited(result, first, "docs/retry.md")

    third = tmp_path / "third"
    (third / "notes").mkdir(parents=True)
    (third / "notes" / "ops.md").write_text("# Operations\n\nThe quantum defragmenter runs every night at midnight to compact the ledger.\n")
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[types.WorkspaceFolder(uri=third.as_uri(), name="third")],
                removed=[types.WorkspaceFolder(uri=second.as_uri(), name="second")],
            )
        )
    )

    async def third_found():
        result = await helpers.ask(client, "When does the quantum defragmenter run?")
        return cited(result, third, "notes/ops.md")

    await helpers.wait_until(third_found, timeout=5)
    result = await helpers.ask(client, FLUX_QUESTION)
    assert not cited(result, second, "docs/guide.md")
    status = await helpers.request(client, "ragls/status", {})
    assert {f["uri"] for f in status["folders"]} == {first.as_uri(), third.as_uri()}


async def test_status_reports_index_and_model(client, workspace, index_parent, helpers):
    status = await helpers.request(client, "ragls/status", {})
    (folder,) = status["folders"]
    assert folder["uri"] == workspace.as_uri()
    assert Path(folder["indexDir"]).parent == index_parent
    assert folder["files"] == 2 and folder["chunks"] >= 2
    assert folder["indexing"] is False and folder["pendingChanges"] == 0
    assert folder["lastUpdate"] and folder["watcher"] == "inotify"
    assert status["model"]["state"] == "none"
    nulled = await helpers.request(client, "ragls/status", None)  # null params are fine too
    assert nulled["folders"][0]["uri"] == folder["uri"] and nulled["model"] == status["model"]
    assert nulled["protocolVersion"] == status["protocolVersion"] == 1


async def test_reindex_rebuilds(client, helpers):
    result = helpers.plain(await client.workspace_execute_command_async(types.ExecuteCommandParams(command="ragls.reindex")))
    assert result == {"started": True}
    status = await helpers.wait_indexed(client)
    assert status["folders"][0]["files"] == 2
    assert not (await helpers.ask(client, RETRY_QUESTION))["abstained"]
