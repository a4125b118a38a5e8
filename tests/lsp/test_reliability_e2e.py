"""Issue 13 against the real server over stdio: what a hostile repository or a careless client can
do must neither lose data nor freeze the server. One client flavour (VS Code's capabilities) here:
these are server-side properties, and the suite runs on two shared cores."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

SERVER = [sys.executable, "-m", "ragls", "--stdio"]


def _conftest():
    """tests/lsp/conftest.py's helpers (importlib import mode cannot import conftest by name)."""
    import importlib.util

    name = "ragls_tests_lsp_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


h = _conftest()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def vclient(lsp_client: LanguageClient, workspace: Path, index_parent: Path):
    await lsp_client.initialize_session(h.init_params(pytest_lsp.client_capabilities("visual_studio_code"), [workspace], index_parent))
    await h.wait_indexed(lsp_client)
    yield
    await lsp_client.shutdown_session()


async def status_folder(client) -> dict:
    return (await h.request(client, "ragls/status", {}))["folders"][0]


async def timed(coro, limit: float):
    started = time.monotonic()
    result = await asyncio.wait_for(coro, limit)
    return result, time.monotonic() - started


# --- item 4: a workspace folder deleted and recreated -------------------------------------------

async def test_a_deleted_and_recreated_folder_is_picked_up_again_and_status_tells_the_truth(vclient, workspace):
    shutil.rmtree(workspace)

    async def gone():
        folder = await status_folder(vclient)
        return folder if folder["watcher"] == "off" and folder["files"] == 0 and not folder["indexing"] else None

    folder = await h.wait_until(gone, 10)
    assert "deleted" in folder["error"]

    # `git clone` again: a new directory (new inode) under the same name, with other content
    (workspace / "docs").mkdir(parents=True)
    (workspace / "docs" / "guide.md").write_text(h.GUIDE_DOC)

    async def back():
        folder = await status_folder(vclient)
        return folder if folder["watcher"] == "inotify" and folder["files"] == 1 and not folder["indexing"] else None

    folder = await h.wait_until(back, 10)
    assert "error" not in folder
    answer = await h.ask(vclient, "How much power does the flux capacitor need?")
    assert any(c["uri"].endswith("docs/guide.md") for c in answer["citations"])
    # and the new folder is really watched: a file created now is found
    (workspace / "docs" / "pump.md").write_text("# Pump\n\nThe bilge pump drains the hull every hour.\n")

    async def pump_found():
        answer = await h.ask(vclient, "How often does the bilge pump drain the hull?")
        return any(c["uri"].endswith("docs/pump.md") for c in answer["citations"])

    await h.wait_until(pump_found, 10)


# --- item 5: a range ending at line 2**31 - 1 ----------------------------------------------------

async def test_a_huge_range_end_line_is_answered_at_once_and_nothing_waits(vclient, workspace):
    uri = (workspace / "docs" / "retry.md").as_uri()
    vclient.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="markdown", version=1, text=h.RETRY_DOC)))
    big = {"start": {"line": 4, "character": 0}, "end": {"line": 2**31 - 1, "character": 2**31 - 1}}
    ask = asyncio.ensure_future(h.ask(vclient, "What does this say?", textDocument={"uri": uri}, range=big))
    _, waited = await timed(h.request(vclient, "ragls/status", {}), 5)
    answer, _ = await timed(ask, 5)
    assert waited < 2 and answer["citations"]


# --- item 6: documents the client did not open ----------------------------------------------------

HOVER_TIMEOUT_S = 3


async def hover(client, uri: str, line: int = 0, character: int = 3):
    return await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character)))


async def test_hover_and_ask_on_a_fifo_answer_at_once(vclient, workspace, tmp_path):
    fifo = workspace / "docs" / "pipe.md"
    os.mkfifo(fifo)
    outside_fifo = tmp_path / "outside.md"
    os.mkfifo(outside_fifo)
    for target in (fifo, outside_fifo):
        result, _ = await timed(hover(vclient, target.as_uri()), HOVER_TIMEOUT_S)
        assert result is None
        answer, _ = await timed(h.ask(vclient, "What is the retry policy?", textDocument={"uri": target.as_uri()},
                                      position={"line": 0, "character": 1}), HOVER_TIMEOUT_S)
        assert answer["citations"]
    await timed(h.request(vclient, "ragls/status", {}), 2)


async def test_hover_and_ask_on_a_device_answer_at_once_without_reading_it(vclient):
    for device in ("/dev/zero", "/dev/urandom"):
        result, _ = await timed(hover(vclient, Path(device).as_uri()), HOVER_TIMEOUT_S)
        assert result is None
        # (ask with the device as its document: the question is answered, the device never read)
        answer, _ = await timed(h.ask(vclient, "What is the retry policy?", textDocument={"uri": Path(device).as_uri()},
                                      position={"line": 0, "character": 1}), HOVER_TIMEOUT_S)
        assert answer["citations"]
    await timed(h.request(vclient, "ragls/status", {}), 2)


async def test_a_file_outside_every_workspace_folder_is_not_read(vclient, workspace, tmp_path):
    # On disk, not opened, and it names a symbol the workspace documents: only its not being inside
    # a workspace folder keeps ragls from reading it.
    outside = tmp_path / "elsewhere" / "session.py"
    outside.parent.mkdir()
    outside.write_text(h.SESSION_PY)
    inside = workspace / "src" / "session.py"
    line = h.SESSION_PY.splitlines()[7]
    character = line.index("retry_policy") + 3
    assert await hover(vclient, inside.as_uri(), 7, character) is not None  # the same file inside: a hover
    assert await hover(vclient, outside.as_uri(), 7, character) is None


# --- item 7: buffers obey maxFileSizeKb -----------------------------------------------------------

@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def small_limit_client(lsp_client: LanguageClient, workspace: Path, index_parent: Path):
    params = h.init_params(pytest_lsp.client_capabilities("visual_studio_code"), [workspace], index_parent)
    params.initialization_options = {"index": {"indexDir": str(index_parent), "maxFileSizeKb": 2}}
    await lsp_client.initialize_session(params)
    await h.wait_indexed(lsp_client)
    yield
    await lsp_client.shutdown_session()


async def test_a_buffer_over_the_size_limit_is_not_indexed(small_limit_client, workspace):
    client = small_limit_client
    filler = "".join(f"Line {n} of the quokka habitat survey notes.\n" for n in range(200))  # ~9 KB > 2 KB
    big = workspace / "docs" / "big.md"
    small = workspace / "docs" / "small.md"
    for path, text in ((big, "# Survey\n\n" + filler), (small, "# Wombat\n\nThe wombat burrow census.\n")):
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=path.as_uri(), language_id="markdown", version=1, text=text)))

    async def small_indexed():  # buffers are indexed in order: once the small one is, the big one was decided
        answer = await h.ask(client, "What does the wombat burrow census count?")
        return any(c["uri"] == small.as_uri() for c in answer["citations"])

    await h.wait_until(small_indexed, 10)
    answer = await h.ask(client, "What does the quokka habitat survey say?")
    assert not any(c["uri"] == big.as_uri() for c in answer["citations"])
    assert (await status_folder(client))["files"] == 3  # retry.md, session.py, small.md


async def test_a_file_on_disk_over_the_size_limit_is_not_read_for_a_hover(small_limit_client, workspace):
    # Neither opened nor indexed (over maxFileSizeKb): a hover on it must not read it either.
    client = small_limit_client
    text = "retry_policy = 3\n" + "".join(f"# line {n} of padding that makes the file too big\n" for n in range(100))
    big, small = workspace / "src" / "big_config.py", workspace / "src" / "small_config.py"
    big.write_text(text)
    small.write_text(text[:200])
    assert len(text.encode()) > 2 * 1024 > len(text[:200].encode())
    assert await hover(client, small.as_uri(), 0, 3) is not None  # the same line in a small file: a hover
    result, _ = await timed(hover(client, big.as_uri(), 0, 3), HOVER_TIMEOUT_S)
    assert result is None


# --- item 9: requests right after `initialized` are queued, not refused ----------------------------

CONFIG_DELAY_S = 2.0


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def slow_config_client(lsp_client: LanguageClient, workspace: Path, index_parent: Path):
    """A client that takes CONFIG_DELAY_S to answer workspace/configuration (as slow editors do)."""

    async def slow_configuration(params: types.ConfigurationParams):
        await asyncio.sleep(CONFIG_DELAY_S)
        return [None for _ in params.items]

    lsp_client.protocol.fm.features[types.WORKSPACE_CONFIGURATION] = slow_configuration
    yield
    await lsp_client.shutdown_session()


async def test_requests_right_after_initialized_wait_for_the_set_up_instead_of_failing(slow_config_client, workspace, index_parent):
    client = slow_config_client
    await client.initialize_session(h.init_params(pytest_lsp.client_capabilities("visual_studio_code"), [workspace], index_parent))
    started = time.monotonic()
    uri = (workspace / "src" / "session.py").as_uri()
    line = h.SESSION_PY.splitlines()[7]
    status, answer, hovered, reindex = await asyncio.wait_for(asyncio.gather(
        h.request(client, "ragls/status", {}),
        h.ask(client, "What is the backoff of the retry_policy?"),
        hover(client, uri, 7, line.index("retry_policy") + 3),
        client.workspace_execute_command_async(types.ExecuteCommandParams(command="ragls.reindex", arguments=[])),
    ), 20)
    assert time.monotonic() - started >= CONFIG_DELAY_S * 0.9  # they really waited for the set-up
    assert status["folders"] and status["folders"][0]["uri"] == workspace.as_uri()
    assert "indexComplete" in answer and isinstance(answer["citations"], list)
    assert h.plain(reindex) == {"started": True}
    del hovered  # a hover may be null while the first index runs; that it was answered is the point


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def uninitialized_client(lsp_client: LanguageClient, workspace: Path, index_parent: Path):
    yield
    await lsp_client.initialize_session(h.init_params(pytest_lsp.client_capabilities("visual_studio_code"), [workspace], index_parent))
    await lsp_client.shutdown_session()


async def test_every_request_before_initialize_is_refused_alike(uninitialized_client, workspace):
    client = uninitialized_client
    uri = (workspace / "src" / "session.py").as_uri()
    calls = {  # raw: pytest-lsp's client itself refuses to send requests before initialize
        "ragls/status": {},
        "ragls/ask": {"question": "anything?"},
        "textDocument/hover": {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 3}},
        "workspace/executeCommand": {"command": "ragls.reindex", "arguments": []},
    }
    for method, params in calls.items():
        with pytest.raises(JsonRpcException) as refused:
            await h.raw_request(client, method, params)
        assert refused.value.code == -32002, method


# --- item 10: secret values never reach an answer, a hover or the index -----------------------------

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYz9q8sKx2Lm"
BUFFER_TOKEN = "ghp_" + "Qw3Er4Ty5Ui6Op7As8Df9Gh0Jk1Lz2Xc3Vb4Nm"


async def test_secrets_in_files_and_buffers_are_redacted_in_every_answer_and_counted(vclient, workspace):
    config = workspace / "src" / "orchard_config.py"
    config.write_text(
        '"""Orchard deployment settings."""\n\n\ndef orchard_credentials():\n'
        f'    """The orchard_credentials used by the harvest uploader."""\n    AWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"\n'
        "    return AWS_SECRET_ACCESS_KEY\n"
    )

    async def found():
        answer = await h.ask(vclient, "Which orchard_credentials does the harvest uploader use?")
        return answer if any(c["uri"] == config.as_uri() for c in answer["citations"]) else None

    answer = await h.wait_until(found, 10)
    assert AWS_SECRET not in str(answer) and "[REDACTED]" in str(answer)
    assert (await status_folder(vclient))["redactedSecrets"] == 1

    # a hover that explains the function cites the redacted passage
    user = workspace / "src" / "uploader.py"
    user_text = "from orchard_config import orchard_credentials\n\nkeys = orchard_credentials()\n"
    vclient.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=user.as_uri(), language_id="python", version=1, text=user_text)))
    hovered = await hover(vclient, user.as_uri(), 2, user_text.splitlines()[2].index("orchard_credentials") + 2)
    assert hovered is not None and AWS_SECRET not in hovered.contents.value

    # an unsaved buffer with a token in it: the overlay is redacted too
    notes = workspace / "docs" / "deploy.md"
    vclient.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=notes.as_uri(), language_id="markdown", version=1,
        text=f"# Deploying the orchard\n\nPush with the deploy token {BUFFER_TOKEN} to the orchard remote.\n")))

    async def buffer_found():
        answer = await h.ask(vclient, "Which deploy token pushes to the orchard remote?")
        return answer if any(c["uri"] == notes.as_uri() for c in answer["citations"]) else None

    answer = await h.wait_until(buffer_found, 10)
    assert BUFFER_TOKEN not in str(answer)
    assert (await status_folder(vclient))["redactedSecrets"] == 2


# --- smaller items in the server: a bad pattern, the index inside the workspace, status before initialize

@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def odd_settings_client(lsp_client: LanguageClient, workspace: Path):
    params = h.init_params(pytest_lsp.client_capabilities("visual_studio_code"), [workspace], workspace / "indexes")
    # an invalid exclude pattern, and the index folder inside the workspace it indexes
    params.initialization_options = {"index": {"indexDir": str(workspace / "indexes"), "exclude": ["!", "src/"]}}
    await lsp_client.initialize_session(params)
    await h.wait_indexed(lsp_client)
    yield
    await lsp_client.shutdown_session()


async def test_a_bad_pattern_and_an_index_inside_the_workspace_neither_stop_nor_loop(odd_settings_client):
    client = odd_settings_client
    folder = await status_folder(client)
    assert folder["files"] == 1 and "error" not in folder  # docs/retry.md; src/ is excluded by the valid pattern
    assert any("invalid pattern '!'" in m.message for m in client.messages), [m.message for m in client.messages]
    # the index's own commits do not feed back into the index: it stays still
    await asyncio.sleep(1.5)
    settled = await status_folder(client)
    await asyncio.sleep(1.5)
    later = await status_folder(client)
    assert later["lastUpdate"] == settled["lastUpdate"] and later["files"] == 1


# --- item 2 in the server, and a folder that appears only after start-up ---------------------------

@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def bad_name_client(lsp_client: LanguageClient, workspace: Path, index_parent: Path):
    (workspace / os.fsdecode(b"docs/bad\xffname.md")).write_text("# Bad\n\nThe quince orchard.\n")
    await lsp_client.initialize_session(h.init_params(pytest_lsp.client_capabilities("visual_studio_code"), [workspace], index_parent))
    await h.wait_indexed(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.skipif(sys.platform != "linux", reason="needs a filesystem that stores raw bytes in names")
async def test_a_non_utf8_name_is_one_skipped_file_for_the_server_and_its_watcher(bad_name_client, workspace):
    client = bad_name_client
    folder = await status_folder(client)
    # (pygls' client renames the non-identifier key "undecodable-name": compare the counts)
    assert folder["files"] == 2 and list(folder["skipped"].values()) == [1] and "error" not in folder
    (workspace / os.fsdecode(b"docs/worse\xfename.md")).write_text("# Worse\n")  # the watcher sees this one
    (workspace / "docs" / "kiln.md").write_text("# Kiln\n\nThe pottery kiln fires at 1200 degrees.\n")

    async def kiln_found():
        answer = await h.ask(client, "How hot does the pottery kiln fire?")
        return any(c["uri"].endswith("docs/kiln.md") for c in answer["citations"])

    await h.wait_until(kiln_found, 10)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def late_folder_client(lsp_client: LanguageClient, tmp_path: Path, index_parent: Path):
    await lsp_client.initialize_session(h.init_params(pytest_lsp.client_capabilities("visual_studio_code"), [tmp_path / "later"], index_parent))
    yield
    await lsp_client.shutdown_session()


async def test_a_folder_missing_at_start_up_is_indexed_once_it_appears(late_folder_client, tmp_path):
    client = late_folder_client

    async def failed():
        folder = (await h.request(client, "ragls/status", {}))["folders"]
        return folder[0] if folder and "error" in folder[0] else None

    assert "appears" in (await h.wait_until(failed, 10))["error"]
    h.write_workspace(tmp_path / "later")

    async def indexed():
        folder = await status_folder(client)
        return folder if folder["files"] == 2 and not folder["indexing"] and folder["watcher"] == "inotify" else None

    assert "error" not in await h.wait_until(indexed, 10)
