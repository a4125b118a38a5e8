"""``ragls mcp``: the workspace's live index for coding agents, over MCP on stdio.

Built on the official SDK's ``FastMCP`` (schemas from the signatures, argument validation, tool
errors as ``isError`` results). The folders are served exactly as the language server serves them
(``lsp.workspaces.Workspaces``: one index and one watcher per folder, every write on one thread),
so the index directory of a folder is the same one an editor's ``ragls --stdio`` uses.

One live index, not two: the process that holds Tantivy's writer lock owns the index (watches,
indexes, commits); another ragls process on the same folder opens the same index as a *follower*
(``WorkspaceIndex.read_only``) and sees each commit at its next search. A follower retries taking
the writer every ``TAKEOVER_RETRY_S`` (``Workspaces``, the same for the language server); when the
owner exits it takes over and catches up with an incremental sync, and its own watcher keeps the
index fresh from then on.

stdout carries only protocol messages: fd 1 becomes stderr for everything else.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from io import TextIOWrapper
from pathlib import Path
from typing import Annotated, Any, Sequence
from urllib.parse import unquote, urlparse

import anyio
from mcp import types as mcp_types
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.stdio import stdio_server
from pydantic import Field

from ragls import __version__
from ragls.agents import tools
from ragls.answering import Answerer
from ragls.lsp.workspaces import Folder, FolderSpec, Workspaces
from ragls.settings import Settings, parse_settings

log = logging.getLogger("ragls.agents")

# A tool call right after start-up waits this long for the first sync of the folders (a follower's
# is instant; a fresh index of a large repository may take longer, and then the answer says so).
FIRST_SYNC_WAIT_S = 10.0

INSTRUCTIONS = """\
ragls indexes this workspace's docs and code (kept fresh as files are saved) and answers with \
line-exact citations. Use `search` to find the passages about a topic or a name, `ask` for a short \
answer that cites path:startLine-endLine for every claim (or says plainly that the workspace does \
not cover the question), `read` to see exact lines of a file, and `status` to see what is indexed. \
Paths are relative to the workspace root given in each result."""

_READ_ONLY = mcp_types.ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)


class _Events:
    """``WorkspacesListener``: indexing news goes to the log (stderr); MCP has no status bar."""

    def indexing_started(self, folder: Folder, rebuild: bool) -> None:
        log.info("indexing %s%s", folder.root, " from scratch" if rebuild else "")

    def indexing_progress(self, folder: Folder, progress: Any) -> None:
        pass

    def indexing_finished(self, folder: Folder, report: Any, error: str | None) -> None:
        if error:
            log.warning("%s", error)
        elif report is not None:
            role = "following the index another ragls process writes" if folder.index is not None and folder.index.read_only else "indexed"
            log.info("%s: %s, %d files, %d chunks in %.2f s", folder.root, role, report.files, report.chunks, report.seconds)

    def warn(self, message: str) -> None:
        log.warning("%s", message)


class AgentServer:
    """The state behind the tools: the folders (live indexes), the answerer and the model."""

    def __init__(self, roots: Sequence[Path], raw_settings: dict[str, Any], *, force_polling: bool = False) -> None:
        settings, warnings = parse_settings(raw_settings)
        for warning in warnings:
            log.warning("%s", warning)
        self.settings: Settings = settings
        self.workspaces = Workspaces(settings.index, _Events(), force_polling=force_polling)
        self.model = _start_model(settings)
        self.answerer = Answerer(self.workspaces.indexes, settings, self.model)
        self.roots_from_client = not roots  # no folder on the command line: the client's roots
        self._roots_stale = self.roots_from_client  # ask the client (again) at the next tool call
        self._roots_lock: anyio.Lock | None = None
        for root in roots:
            self.add_root(root)

    # --- folders ---------------------------------------------------------------------------------

    def add_root(self, root: Path) -> None:
        resolved = root.expanduser().resolve()
        if self.workspaces.add(FolderSpec(resolved.as_uri(), resolved)) is not None:
            log.info("serving %s", resolved)

    def roots_changed(self) -> None:
        self._roots_stale = self.roots_from_client

    async def ensure_roots(self, ctx: Context | None) -> None:
        """With no folder on the command line, the folders are the client's MCP roots."""
        if not self._roots_stale or ctx is None:
            return
        if self._roots_lock is None:
            self._roots_lock = anyio.Lock()
        async with self._roots_lock:
            if not self._roots_stale:
                return
            self._roots_stale = False
            session = ctx.session
            params = session.client_params
            if params is None or params.capabilities.roots is None:
                return
            try:
                listed = await session.list_roots()
            except Exception as exc:  # a client that declares roots but cannot list them
                log.warning("the client's roots could not be listed: %s", exc)
                return
            wanted = {p for p in (_file_uri_path(str(r.uri)) for r in listed.roots) if p is not None}
            current = {f.root for f in self.workspaces.folders}
            for root in sorted(wanted - current):
                self.add_root(root)
            for root in current - wanted:
                self.workspaces.remove(root)

    def wait_first_sync(self, timeout: float = FIRST_SYNC_WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(f.synced for f in self.workspaces.folders):
            time.sleep(0.02)

    async def ready(self, ctx: Context | None) -> None:
        await self.ensure_roots(ctx)
        if not self.workspaces.folders:
            raise tools.ToolInputError(
                "no workspace folder: start the server with one (`ragls mcp /path/to/repo`) "
                "or use a client that sends MCP roots"
            )
        if not all(f.synced for f in self.workspaces.folders):
            await anyio.to_thread.run_sync(self.wait_first_sync)

    def indexes(self) -> list:
        return self.workspaces.indexes()

    def with_index_state(self, result: dict[str, Any]) -> dict[str, Any]:
        """``result``, saying so when a first indexing is still running (results may be missing)."""
        busy = [str(f.root) for f in self.workspaces.folders if f.indexing or not f.synced]
        if busy:
            result["indexing"] = busy
            result["note"] = (result.get("note", "") + " " if result.get("note") else "") + (
                "still indexing (see status): passages from files not read yet are missing"
            )
        return result

    def close(self) -> None:
        self.workspaces.close()
        if self.model is not None:
            self.model.close()


def _file_uri_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        log.info("ignoring the root %s: only file:// roots can be indexed", uri)
        return None
    return Path(unquote(parsed.path)).resolve()


def _start_model(settings: Settings):
    if not (settings.model.path or settings.model.remote.url):
        return None
    try:
        from ragls.model.host import ModelHost  # optional: not every install has a model

        host = ModelHost(settings.model, listener=lambda event: log.warning("model: %s", event.message) if event.kind == "crashed" else None)
        host.start()  # loads in the background: answers are extractive until it is ready
        return host
    except Exception as exc:
        log.warning("the model could not be started (%s); answering from the workspace text only", exc)
        return None


# --- the MCP server --------------------------------------------------------------------------------

def build_server(agent: AgentServer) -> FastMCP:
    server = FastMCP("ragls", instructions=INSTRUCTIONS, log_level="WARNING")
    # (FastMCP has no public way to set these; its low-level server is the SDK's documented one.)
    server._mcp_server.version = __version__

    @server.tool(
        name="search",
        title="Search the workspace",
        annotations=_READ_ONLY,
        description=(
            "Find the passages of this workspace's docs and code about a topic, a question or an identifier "
            "(lexical search that also matches identifier parts: `HTTPResponse` ~ \"http response\"). Returns up to k "
            "passages, best first, each with root, path, startLine-endLine (1-based, inclusive), heading or symbols, "
            "score and the passage text. `covered: false` means only weak matches: the workspace probably does not "
            "cover the query. Cheaper than `ask` when you want to read the sources yourself."
        ),
    )
    async def search(
        query: Annotated[str, Field(description="words, a question, or an identifier to look for")],
        k: Annotated[int, Field(ge=1, le=tools.MAX_SEARCH_RESULTS, description="how many passages (default 5)")] = 5,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        await agent.ready(ctx)
        return agent.with_index_state(await anyio.to_thread.run_sync(tools.search, agent.answerer, query, k))

    @server.tool(
        name="ask",
        title="Ask the workspace",
        annotations=_READ_ONLY,
        description=(
            "Answer a question from this workspace's docs and code only. Every sentence of the answer carries a "
            "[n] marker; `citations` maps each n to root, path, startLine-endLine. When the workspace does not cover "
            "the question, `notCovered` is true and the answer says so instead of guessing: do not treat that as a "
            "failure to retry with the same words. `source` tells whether a local model or extraction from the "
            "passages wrote it."
        ),
    )
    async def ask(
        question: Annotated[str, Field(description="the question, in plain words")],
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        await agent.ready(ctx)
        cancel = threading.Event()  # a cancelled call (notifications/cancelled) stops the model too
        try:
            answer = await anyio.to_thread.run_sync(tools.ask, agent.answerer, question, cancel, abandon_on_cancel=True)
            return agent.with_index_state(answer)
        finally:
            cancel.set()

    @server.tool(
        name="read",
        title="Read lines of a workspace file",
        annotations=_READ_ONLY,
        description=(
            "Return lines startLine..endLine (1-based, inclusive) of a file in the workspace, e.g. around a search "
            f"hit or a citation. `path` is relative to the workspace root (as in search results). At most "
            f"{tools.MAX_READ_LINES} lines per call (default {tools.DEFAULT_READ_LINES}). Only files ragls indexes can "
            "be read: paths with '..', absolute paths outside the workspace, symbolic links out of it, secret files "
            "(.env, keys, credentials) and ignored files are refused; secret values inside files show as [REDACTED]."
        ),
    )
    async def read(
        path: Annotated[str, Field(description="file path relative to the workspace root, e.g. docs/setup.md")],
        startLine: Annotated[int, Field(ge=1, description="first line, 1-based (default 1)")] = 1,
        endLine: Annotated[int | None, Field(ge=1, description="last line, inclusive (default: startLine + 199)")] = None,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        await agent.ready(ctx)
        return await anyio.to_thread.run_sync(tools.read, agent.indexes(), path, startLine, endLine)

    @server.tool(
        name="status",
        title="Index status",
        annotations=_READ_ONLY,
        description=(
            "What ragls has indexed: per workspace folder the files and chunks, whether indexing is running or "
            "changes are pending (`fresh`), the last update, whether this server writes the index or follows the one "
            "an editor's ragls writes (`role`), skipped files by reason; and the model's state."
        ),
    )
    async def status(ctx: Context | None = None) -> dict[str, Any]:
        await agent.ensure_roots(ctx)
        return await anyio.to_thread.run_sync(tools.status, agent.workspaces.folders, agent.model)

    async def on_roots_changed(_notification: Any) -> None:
        agent.roots_changed()

    server._mcp_server.notification_handlers[mcp_types.RootsListChangedNotification] = on_roots_changed
    return server


def serve_mcp(roots: Sequence[str], raw_settings: dict[str, Any], *, verbose: bool = False) -> int:
    """Run ``ragls mcp`` on stdio until the client closes stdin."""
    logging.getLogger("ragls").setLevel(logging.DEBUG if verbose else logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    folders = []
    for raw in roots:
        path = Path(raw).expanduser()
        if not path.is_dir():
            print(f"ragls: workspace folder does not exist: {path}", file=sys.stderr)
            return 2
        folders.append(path)
    if sys.stdin is None or sys.stdout is None:
        log.error("ragls mcp needs stdin and stdout connected to the MCP client")
        return 2
    # The protocol owns the real stdout. Anything else that writes to fd 1 (a stray print, a C
    # library) would corrupt the message stream, so fd 1 becomes stderr for everyone else.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    agent = AgentServer(folders, raw_settings, force_polling=os.environ.get("RAGLS_FORCE_POLLING") == "1")
    server = build_server(agent)

    async def run() -> None:
        stdin = anyio.wrap_file(TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace"))
        stdout = anyio.wrap_file(TextIOWrapper(protocol_out, encoding="utf-8"))
        async with stdio_server(stdin, stdout) as (read_stream, write_stream):
            lowlevel = server._mcp_server
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())

    try:
        anyio.run(run)
    except KeyboardInterrupt:
        pass
    finally:
        agent.close()
    return 0
