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
