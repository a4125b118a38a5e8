"""A real MCP client (the SDK's stdio client + ClientSession) on a real ``ragls mcp`` subprocess,
and a real language server (``ragls --stdio``) beside it, on workspaces in ``tmp_path``.

Loaded by path from the test files (importlib import mode cannot import it by name)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

def _lsp_conftest():
    """tests/lsp/conftest.py: the shared workspace texts and the LSP client helpers (loaded by path,
    under the name tests/lsp/test_reliability_e2e.py uses, so there is one copy)."""
    import importlib.util

    name = "ragls_tests_lsp_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent.parent / "lsp" / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_lsp = _lsp_conftest()
RETRY_DOC, SESSION_PY = _lsp.RETRY_DOC, _lsp.SESSION_PY

# A GitHub token literal: the index redacts it, and so must `read`.
TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
CONFIG_DOC = f"""\
# Deploy configuration

The deploy bot authenticates with the token below.

    token: {TOKEN}

Rotate it every ninety days.
"""


def write_workspace(root: Path) -> Path:
    """The language server tests' workspace, plus a doc holding a (redacted) token and a `.env`."""
    _lsp.write_workspace(root)
    (root / "docs" / "deploy.md").write_text(CONFIG_DOC)
    (root / ".env").write_text("DATABASE_PASSWORD=correct-horse-battery-staple\n")
    return root


def lines_of(path: Path, start: int, end: int) -> str:
    return "\n".join(path.read_text().split("\n")[start - 1:end])


def mcp_command(*roots: Path, index_parent: Path, extra: tuple[str, ...] = ()) -> list[str]:
    return ["-m", "ragls", "mcp", *map(str, roots), "--index-dir", str(index_parent), *extra]


@asynccontextmanager
async def mcp_session(
    *roots: Path,
    index_parent: Path,
    errlog: Path,
    client_roots: list[Path] | None = None,
    extra_args: tuple[str, ...] = (),
) -> AsyncIterator[ClientSession]:
    """``ragls mcp ROOTS…`` started and spoken to by the SDK's own client; ``client_roots``: the
    client declares the roots capability and lists these; ``extra_args``: more ``ragls mcp`` flags."""
    args = mcp_command(*roots, index_parent=index_parent, extra=extra_args)
    params = StdioServerParameters(command=sys.executable, args=args, env=dict(os.environ))
    list_roots = None
    if client_roots is not None:  # (read at each roots/list: a test may change the list)
        async def list_roots(_context: Any) -> types.ListRootsResult:
            return types.ListRootsResult(roots=[types.Root(uri=p.as_uri(), name=p.name) for p in client_roots])

    with open(errlog, "a") as log:
        async with stdio_client(params, errlog=log) as (read_stream, write_stream):
            async with ClientSession(read_stream, write_stream, list_roots_callback=list_roots) as session:
                await session.initialize()
                yield session


async def call(session: ClientSession, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """A tool's structured result; fails the test on a tool error."""
    result = await session.call_tool(tool, arguments or {})
    assert not result.isError, f"{tool}({arguments}) failed: {error_text(result)}"
    assert result.structuredContent is not None
    # the text content is the same JSON, for clients that only read text
    assert json.loads(result.content[0].text) == result.structuredContent
    return result.structuredContent


async def call_error(session: ClientSession, tool: str, arguments: dict[str, Any] | None = None) -> str:
    """The message of a tool error; fails the test when the call succeeds."""
    result = await session.call_tool(tool, arguments or {})
    assert result.isError, f"{tool}({arguments}) should have failed, got {result.structuredContent}"
    return error_text(result)


def error_text(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def wait_until(check: Callable[[], Awaitable[Any]], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """tests/lsp's ``wait_until``, polling faster: the latencies measured here are sub-second."""
    return await _lsp.wait_until(check, timeout, interval)


async def search_paths(session: ClientSession, query: str, k: int = 5) -> list[str]:
    return [h["path"] for h in (await call(session, "search", {"query": query, "k": k}))["hits"]]


async def time_until_found(session: ClientSession, query: str, path: str, timeout: float) -> float:
    """Seconds until ``search(query)`` lists ``path``; fails after ``timeout``."""
    started = time.monotonic()

    async def found():
        return path in await search_paths(session, query)

    await wait_until(found, timeout)
    return time.monotonic() - started


async def folder_status(session: ClientSession) -> dict[str, Any]:
    folders = (await call(session, "status"))["folders"]
    assert len(folders) == 1, folders
    return folders[0]


# --- the language server beside it -----------------------------------------------------------------

async def start_language_server(workspace: Path, index_parent: Path):
    """``ragls --stdio`` on ``workspace`` with its index under ``index_parent``, initialized."""
    import pytest_lsp
    from pytest_lsp import ClientServerConfig

    client = await ClientServerConfig(server_command=_lsp.SERVER).start()
    await client.initialize_session(
        _lsp.init_params(pytest_lsp.client_capabilities("visual_studio_code"), [workspace], index_parent)
    )
    return client


lsp_request = _lsp.request


async def lsp_wait_indexed(client, timeout: float = 20.0) -> dict:
    return await _lsp.wait_indexed(client, timeout)


async def lsp_cited_uris(client, question: str) -> list[str]:
    answer = await lsp_request(client, "ragls/ask", {"question": question})
    return [c["uri"] for c in answer["citations"]]


class BackgroundSession:
    """An MCP session in its own task, so that sessions can end in any order (anyio's task groups
    must otherwise be left in the reverse order they were entered)."""

    def __init__(self, *roots: Path, index_parent: Path, errlog: Path) -> None:
        self._args = (roots, index_parent, errlog)
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.session: ClientSession | None = None

    async def start(self) -> ClientSession:
        ready: asyncio.Future = asyncio.get_running_loop().create_future()
        roots, index_parent, errlog = self._args

        async def run() -> None:
            try:
                async with mcp_session(*roots, index_parent=index_parent, errlog=errlog) as session:
                    ready.set_result(session)
                    await self._stop.wait()
            except BaseException as exc:
                if not ready.done():
                    ready.set_exception(exc)
                raise

        self._task = asyncio.create_task(run())
        self.session = await ready
        return self.session

    async def stop(self) -> None:
        """Close the client's end; returns once the server process has exited."""
        self._stop.set()
        if self._task is not None:
            await self._task
