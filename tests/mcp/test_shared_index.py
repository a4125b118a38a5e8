"""One live index, not two: ``ragls mcp`` beside the editor's ``ragls --stdio`` (or another
``ragls mcp``) on the same workspace and index folder. The process holding Tantivy's writer owns
the index; the other follows its commits, and takes over when the owner exits. Both orders of
start-up, either one exiting; the index on disk stays whole throughout."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import pytest


def _helpers():
    name = "ragls_tests_mcp_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "helpers.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


from ragls.index.workspace_index import TAKEOVER_RETRY_S  # noqa: E402

h = _helpers()

GUIDE = "# Guide\n\nThe flux capacitor needs 1.21 gigawatts of power.\n"
LATER = "# Later\n\nThe hoverboard needs a magnetic field to float over water.\n"
LAST = "# Last\n\nThe sports almanac lists every result from 1950 to 2000.\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return h.write_workspace(tmp_path / "ws")


@pytest.fixture
def index_parent(tmp_path: Path) -> Path:
    return tmp_path / "indexes"


async def _role(session, role: str, timeout: float = 5.0) -> dict:
    async def check():
        folder = await h.folder_status(session)
        return folder if folder["role"] == role and not folder["indexing"] else None

    return await h.wait_until(check, timeout)


async def _lsp_cites(client, question: str, path: Path, timeout: float) -> None:
    async def cited():
        return path.as_uri() in await h.lsp_cited_uris(client, question)

    await h.wait_until(cited, timeout, interval=0.05)


async def _lsp_files(client) -> int:
    [folder] = (await h.lsp_wait_indexed(client))["folders"]
    return folder["files"]


async def test_mcp_follows_the_language_servers_index_and_takes_over_when_it_exits(workspace, index_parent, tmp_path):
    errlog = tmp_path / "mcp-stderr.log"
    lsp = await h.start_language_server(workspace, index_parent)
    try:
        [lsp_folder] = (await h.lsp_wait_indexed(lsp))["folders"]
        async with h.mcp_session(workspace, index_parent=index_parent, errlog=errlog) as session:
            follower = await _role(session, "follower")
            assert follower["indexDir"] == lsp_folder["indexDir"]  # the same index, not a second one
            assert follower["files"] == 3 and follower["chunks"] == lsp_folder["chunks"]
            assert (await h.search_paths(session, "retry policy"))[0] == "docs/retry.md"

            # the language server indexes a save; the MCP server sees its commit
            (workspace / "docs" / "guide.md").write_text(GUIDE)
            seen_after = await h.time_until_found(session, "flux capacitor gigawatts", "docs/guide.md", timeout=1.0)
            assert seen_after <= 1.0
            assert (await h.folder_status(session))["files"] == 4  # the owner's manifest, followed

            # the owner exits: the follower takes the writer over and keeps the index live itself
            await lsp.shutdown_session()
            lsp = None
            owner = await _role(session, "owner")
            assert owner["files"] == 4 and owner["indexDir"] == lsp_folder["indexDir"]
            (workspace / "docs" / "later.md").write_text(LATER)
            assert await h.time_until_found(session, "hoverboard magnetic field", "docs/later.md", timeout=1.0) <= 1.0

        # whole on disk: a language server started now finds everything, nothing re-read twice
        lsp = await h.start_language_server(workspace, index_parent)
        assert await _lsp_files(lsp) == 5
        await _lsp_cites(lsp, "What does the hoverboard need to float?", workspace / "docs" / "later.md", timeout=5.0)
    finally:
        if lsp is not None:
            await lsp.shutdown_session()


async def test_language_server_follows_mcp_and_takes_over_when_it_exits(workspace, index_parent, tmp_path):
    errlog = tmp_path / "mcp-stderr.log"
    lsp = None
    try:
        async with h.mcp_session(workspace, index_parent=index_parent, errlog=errlog) as session:
            await _role(session, "owner")
            lsp = await h.start_language_server(workspace, index_parent)
            assert await _lsp_files(lsp) == 3  # the MCP server's index, followed
            await _lsp_cites(lsp, "How often is a failed request sent again?", workspace / "docs" / "retry.md", timeout=5.0)

            (workspace / "docs" / "guide.md").write_text(GUIDE)
            assert await h.time_until_found(session, "flux capacitor gigawatts", "docs/guide.md", timeout=1.0) <= 1.0
            await _lsp_cites(lsp, "How many gigawatts does the flux capacitor need?", workspace / "docs" / "guide.md", timeout=1.0)
            assert (await h.folder_status(session))["role"] == "owner"  # the follower never took it

        # the MCP server exited: the language server takes the writer over by itself, with no
        # file change to prompt it (it retries every TAKEOVER_RETRY_S) — an MCP server started
        # now finds it the owner and follows
        await asyncio.sleep(TAKEOVER_RETRY_S * 2.5)
        async with h.mcp_session(workspace, index_parent=index_parent, errlog=errlog) as session:
            assert (await _role(session, "follower"))["files"] == 4
        (workspace / "docs" / "later.md").write_text(LATER)
        await _lsp_cites(lsp, "What does the hoverboard need to float?", workspace / "docs" / "later.md", timeout=5.0)
        assert await _lsp_files(lsp) == 5
    finally:
        if lsp is not None:
            await lsp.shutdown_session()


async def test_two_mcp_servers_share_one_index_whichever_exits(workspace, index_parent, tmp_path):
    args = {"index_parent": index_parent, "errlog": tmp_path / "mcp-stderr.log"}
    first, second, third = (h.BackgroundSession(workspace, **args) for _ in range(3))
    try:
        one = await first.start()
        await _role(one, "owner")
        two = await second.start()
        await _role(two, "follower")
        (workspace / "docs" / "guide.md").write_text(GUIDE)
        assert await h.time_until_found(two, "flux capacitor gigawatts", "docs/guide.md", timeout=1.0) <= 1.0

        # the follower exits: the owner goes on undisturbed
        await second.stop()
        (workspace / "docs" / "later.md").write_text(LATER)
        assert await h.time_until_found(one, "hoverboard magnetic field", "docs/later.md", timeout=1.0) <= 1.0
        assert (await h.folder_status(one))["role"] == "owner"

        # the owner exits while another follows: that one takes over and keeps the index live
        three = await third.start()
        assert (await _role(three, "follower"))["files"] == 5
        await first.stop()
        assert (await _role(three, "owner"))["files"] == 5
        (workspace / "docs" / "last.md").write_text(LAST)
        assert await h.time_until_found(three, "sports almanac results", "docs/last.md", timeout=1.0) <= 1.0
        assert (await h.folder_status(three))["files"] == 6
    finally:
        for session in (first, second, third):
            await session.stop()


async def test_two_servers_started_at_once_on_a_new_index_agree_on_one_owner(workspace, index_parent, tmp_path):
    args = {"index_parent": index_parent, "errlog": tmp_path / "mcp-stderr.log"}
    servers = [h.BackgroundSession(workspace, **args) for _ in range(2)]
    try:
        sessions = await asyncio.gather(*(server.start() for server in servers))
        try:
            # (30 s: once in about 40 runs, in a CI run, one of the two took longer than 10 s
            # to settle; the reason was not found — the message below says what each one saw.)
            statuses = await asyncio.gather(*(h.wait_until(lambda s=s: _settled(s), timeout=30.0) for s in sessions))
        except AssertionError as exc:
            seen = [await h.folder_status(s) for s in sessions]
            log = args["errlog"].read_text() if args["errlog"].exists() else ""
            raise AssertionError(f"{exc}; folders: {seen}; server stderr (tail): {log[-3000:]}") from exc
        assert sorted(folder["role"] for folder in statuses) == ["follower", "owner"]
        assert len({folder["indexDir"] for folder in statuses}) == 1
        for session in sessions:
            assert (await h.search_paths(session, "retry policy"))[0] == "docs/retry.md"
            assert (await h.folder_status(session))["files"] == 3
    finally:
        for server in servers:
            await server.stop()


async def _settled(session) -> dict | None:
    folder = await h.folder_status(session)
    return folder if folder["fresh"] and folder["files"] == 3 else None
