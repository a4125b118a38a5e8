"""The ragls language server's state and lifecycle: :class:`RaglsServer`.

Where things run (the rule every handler follows):
- State changes (settings, folders, open documents) happen on the event loop, in handlers.
- Index writes run on the one index worker (:mod:`ragls.lsp.workspaces`).
- Searches and answers run in the server's work pool on index snapshots (``in_pool``), so the
  loop keeps reading messages — a ``$/cancelRequest`` or a hover is never stuck behind an answer.
  The pool is as wide as the machine, not wider: answering is Python that holds the GIL, and every
  extra busy thread takes GIL turns from the event loop, so under load a cheap request
  (``ragls/status``) waited behind the loop's share of the GIL (issue 13: 248 ms with 8 workers
  while 200 asks ran). Requests beyond the pool's width queue in it; nothing on the loop waits.
- Anything sent from another thread goes through ``loop.call_soon_threadsafe``.

The open documents live in :mod:`ragls.lsp.documents` (owned by the server). The method wiring
(:mod:`ragls.lsp.handlers`), the features (``hover``, ``ask``, ``status``) and the entry point
(:mod:`ragls.lsp.server`) import this module; it imports none of them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Coroutine

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcServerNotInitialized
from pygls.lsp.server import LanguageServer

from ragls import __version__
from ragls.answering import Answerer
from ragls.index.workspace_index import IndexProgress, IndexReport
from ragls.lsp import convert, protocol
from ragls.lsp.documents import OpenDocuments
from ragls.lsp.progress import ServerProgress
from ragls.lsp.rpc import RaglsProtocol, converter_factory
from ragls.lsp.workspaces import Folder, FolderSpec, Workspaces
from ragls.settings import Settings, parse_settings

log = logging.getLogger("ragls.lsp")

CONFIGURATION_TIMEOUT_S = 5.0
# A request that arrives after ``initialize`` waits at most this long for ``initialized``'s set-up.
READY_TIMEOUT_S = 30.0
# How long a thread may hold the GIL while another waits for it (CPython's default: 5 ms). The loop
# thread acquires the GIL several times per request (wake-up, parse, reply); with answers busy in
# the pool each acquisition could wait a full interval. 1 ms halved the worst ``ragls/status`` wait
# under 200 asks (62 -> 29 ms, docs/BENCHMARKS.md) for no measurable loss in answer throughput.
GIL_SWITCH_INTERVAL_S = 0.001


def _work_pool_width() -> int:
    """Threads answering at once: one per core the process may use (at least 2, so one slow
    answer never holds up a hover), at most 4 (more only adds GIL contention)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 2
    override = os.environ.get("RAGLS_WORK_THREADS", "")
    if override.isdigit() and int(override) > 0:  # for benchmarks comparing widths
        return int(override)
    return max(2, min(4, cores))


def _merge(base: Any, override: Any) -> Any:
    """``override`` on top of ``base``; a null in ``override`` keeps ``base`` (a client's "unset")."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if value is not None:
                merged[key] = _merge(base.get(key), value)
        return merged
    return base if override is None else override


class RaglsServer(LanguageServer):
    """One session with one editor: settings, folders (indexes and watchers), open documents, the
    model, and the lifecycle that builds and closes them."""

    def __init__(self, cli_settings: dict | None = None, *, force_polling: bool = False) -> None:
        # pygls' own pool serves only what pygls runs there itself (the stdin reader is our own
        # thread, :func:`ragls.lsp.rpc.serve_stdio`); the features use ``work_pool``.
        super().__init__(
            "ragls",
            __version__,
            protocol_cls=RaglsProtocol,
            converter_factory=converter_factory,
            max_workers=2,
        )
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
        self.work_pool = ThreadPoolExecutor(max_workers=_work_pool_width(), thread_name_prefix="ragls-work")
        self.settings = Settings()
        self._cli_settings = cli_settings or {}
        self._init_options: Any = None
        self._client_config: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.workspaces: Workspaces | None = None
        self.answerer: Answerer | None = None
        self.model: Any = None  # ragls.model.host.ModelHost when a model is configured
        self._force_polling = force_polling
        self._tasks: set[asyncio.Task] = set()
        self.documents = OpenDocuments(self)
        self._indexing_bars: dict[str, ServerProgress] = {}
        self._shut_down = False
        self._initialize_seen = False
        self._ready: asyncio.Event | None = None  # set once on_initialized has built the workspaces

    # --- plumbing ----------------------------------------------------------------------------

    def spawn(self, coro: Coroutine, name: str) -> asyncio.Task:
        """Start a background task that is tracked and whose failure is logged, never lost."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task %r failed", name, exc_info=t.exception())

        task.add_done_callback(done)
        return task

    def from_thread(self, fn: Callable, *args: Any) -> None:
        """Run ``fn(*args)`` on the event loop (safe from any thread)."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    async def in_pool(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.work_pool, functools.partial(fn, *args, **kwargs))

    def message(self, text: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        log.log(logging.WARNING if kind <= types.MessageType.Warning else logging.INFO, "%s", text)
        self.window_show_message(types.ShowMessageParams(type=kind, message=text))

    @property
    def encoding(self) -> str:
        try:
            chosen = self.workspace.position_encoding or convert.UTF16
        except RuntimeError:  # before initialize
            return convert.UTF16
        return str(getattr(chosen, "value", chosen))  # pygls hands over an enum member or the client's own string

    @property
    def shut_down(self) -> bool:
        return self._shut_down

    def _client_supports(self, field: str) -> bool:
        """Whether the client's capability at ``field`` (e.g. ``window.work_done_progress``) is on."""
        return bool(get_capability(self.client_capabilities, field, False))

    # --- documents (the store: :mod:`ragls.lsp.documents`) -------------------------------------

    async def document_text_async(self, uri: str) -> str | None:
        """The text of ``uri`` as the features read it: the open buffer, else the workspace file."""
        return await self.documents.text_async(uri)

    def line_lookup(self) -> convert.LineLookup:
        return self.documents.line_lookup()

    def document_folder(self, uri: str) -> tuple[Folder, str] | None:
        return self.documents.folder_of(uri)

    # --- settings ------------------------------------------------------------------------------

    def _apply_settings(self, raw: Any, *, first: bool) -> None:
        settings, warnings = parse_settings(raw if raw is not None else {})
        for warning in warnings:
            self.message(warning)
        previous, self.settings = self.settings, settings
        if self.answerer is not None:
            self.answerer.settings = settings
        if not first and self.workspaces is not None and settings.index != previous.index:
            log.info("index settings changed: re-opening every folder")
            specs = [FolderSpec(f.uri, f.root) for f in self.workspaces.folders]
            for spec in specs:
                self.workspaces.remove(spec.root)
            self.workspaces.settings = settings.index
            for spec in specs:
                self.workspaces.add(spec)
            self.documents.overlay_all()
        if not first and settings.model != previous.model:
            self._update_model(settings)

    async def _pull_configuration(self) -> Any:
        if not self._client_supports("workspace.configuration"):
            return None
        try:
            result = await asyncio.wait_for(
                self.workspace_configuration_async(types.ConfigurationParams(items=[types.ConfigurationItem(section="ragls")])),
                CONFIGURATION_TIMEOUT_S,
            )
        except Exception as exc:
            log.info("workspace/configuration failed: %s", exc)
            return None
        value = result[0] if result else None
        return value if isinstance(value, dict) else None

    def _raw_settings(self) -> Any:
        return _merge(_merge(self._cli_settings, self._init_options or {}), self._client_config or {})

    # --- model ---------------------------------------------------------------------------------

    def _create_model(self, settings: Settings) -> None:
        if not (settings.model.path or settings.model.remote.url):
            return
        try:
            from ragls.model.host import ModelHost  # optional: not every install has a model
        except ImportError as exc:
            self.message(f"ragls: a model is configured but the model support is unavailable ({exc}); answering from retrieval only")
            return
        try:
            self.model = ModelHost(settings.model, listener=lambda event: self.from_thread(self._on_model_event, event))
            self.model.start()
        except Exception as exc:
            log.exception("model start failed")
            self.message(f"ragls: the model could not be started ({exc}); answering from retrieval only")
            self.model = None
        if self.answerer is not None:
            self.answerer.model = self.model

    def _update_model(self, settings: Settings) -> None:
        if self.model is None:
            self._create_model(settings)
            return
        try:
            self.model.update_settings(settings.model)
        except Exception as exc:
            log.exception("model settings update failed")
            self.message(f"ragls: could not apply the model settings ({exc})")

    def _on_model_event(self, event: Any) -> None:
        """The model host's news, on the event loop: a failure or a crash is shown to the user (the
        status request reports the same); a restart that worked is only logged."""
        if self._shut_down:
            return
        if event.kind == "failed":
            self.message(f"ragls: the model failed ({event.message}); answering from retrieval only")
        elif event.kind == "crashed":
            self.message(f"ragls: {event.message}; answers come from the passages meanwhile")
        else:
            log.info("model ready: %s", event.message)

    # --- lifecycle -------------------------------------------------------------------------------

    async def until_ready(self) -> None:
        """Wait until ``initialized`` has been handled, so a request sent right after it is
        answered when the folders exist instead of refused (the server may still be waiting for
        ``workspace/configuration``). Before ``initialize`` every request is refused, as the spec
        asks (-32002)."""
        if not self._initialize_seen or self._ready is None:
            raise JsonRpcServerNotInitialized("ragls has not received 'initialize' yet")
        if self._ready.is_set():  # the usual case: no task, no wait (hover runs on every mouse rest)
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._ready.wait()), READY_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise JsonRpcServerNotInitialized("ragls is waiting for the client's 'initialized' notification") from None

    def on_initialize(self, params: types.InitializeParams) -> None:
        self._initialize_seen = True
        self._ready = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self._init_options = params.initialization_options
        self._apply_settings(self._raw_settings(), first=True)

    async def on_initialized(self) -> None:
        try:
            await self._set_up()
        finally:  # a failed set-up must not leave requests waiting: they see its consequences
            if self._ready is not None:
                self._ready.set()

    async def _set_up(self) -> None:
        self._client_config = await self._pull_configuration()
        if self._client_config is not None:
            self._apply_settings(self._raw_settings(), first=True)
        self.workspaces = Workspaces(self.settings.index, _WorkspaceEvents(self), force_polling=self._force_polling)
        self.answerer = Answerer(self.workspaces.indexes, self.settings, None)
        self._create_model(self.settings)
        for spec in self._initial_folders():
            self.workspaces.add(spec)
        self.documents.overlay_all()

    def _initial_folders(self) -> list[FolderSpec]:
        specs = []
        for folder in self.workspace.folders.values():
            path = convert.uri_to_path(folder.uri)
            if path is not None:
                specs.append(FolderSpec(folder.uri, path))
        if not specs and self.workspace.root_uri:
            path = convert.uri_to_path(self.workspace.root_uri)
            if path is not None:
                specs.append(FolderSpec(self.workspace.root_uri, path))
        return specs

    async def on_configuration_changed(self, params: types.DidChangeConfigurationParams) -> None:
        pushed = params.settings.get("ragls") if isinstance(params.settings, dict) else None
        self._client_config = pushed if isinstance(pushed, dict) else await self._pull_configuration()
        self._apply_settings(self._raw_settings(), first=False)

    def on_folders_changed(self, params: types.DidChangeWorkspaceFoldersParams) -> None:
        if self.workspaces is None:
            return
        for removed in params.event.removed or []:
            if (path := convert.uri_to_path(removed.uri)) is not None:
                self.workspaces.remove(path)
        for added in params.event.added or []:
            if (path := convert.uri_to_path(added.uri)) is not None:
                self.workspaces.add(FolderSpec(added.uri, path))
        self.documents.overlay_all()

    def shutdown(self) -> None:
        """pygls' end of the session (after ``exit`` or a lost client): queued work is dropped; a
        running answer finishes on its own (its cancel event is not reachable from here)."""
        super().shutdown()
        self.work_pool.shutdown(wait=False, cancel_futures=True)

    def on_shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self.documents.close()
        for task in list(self._tasks):
            task.cancel()
        if self.workspaces is not None:
            self.workspaces.close()
        if self.model is not None:
            try:
                self.model.close()
            except Exception:
                log.exception("closing the model failed")

    # --- indexing progress (called from the index worker) ------------------------------------

    def _indexing_started(self, folder: Folder, rebuild: bool) -> None:
        bar = ServerProgress(
            self,
            protocol.INDEXING_TITLE,
            self.spawn,
            supported=self._client_supports("window.work_done_progress"),
        )
        self._indexing_bars[folder.key] = bar
        bar.begin(f"{'rebuilding' if rebuild else 'indexing'} {folder.name}")

    def _indexing_progress(self, folder: Folder, progress: IndexProgress) -> None:
        if (bar := self._indexing_bars.get(folder.key)) is not None:
            percentage = int(progress.done_files * 100 / progress.total_files) if progress.total_files else 100
            bar.report(f"{progress.done_files}/{progress.total_files} files", percentage)

    def _indexing_finished(self, folder: Folder, report: IndexReport | None, error: str | None) -> None:
        bar = self._indexing_bars.pop(folder.key, None)
        if error:
            self.message(f"ragls: {error}", types.MessageType.Error)
        summary = (
            f"{folder.name}: {report.files} files, {report.chunks} passages in {report.seconds:.1f} s"
            if report is not None
            else f"{folder.name}: not indexed"
        )
        log.info("indexing finished: %s", summary)
        if bar is not None:
            bar.end(summary)


class _WorkspaceEvents:
    """Forwards index-worker and watcher events onto the event loop."""

    def __init__(self, server: RaglsServer) -> None:
        self._server = server

    def indexing_started(self, folder: Folder, rebuild: bool) -> None:
        self._server.from_thread(self._server._indexing_started, folder, rebuild)

    def indexing_progress(self, folder: Folder, progress: IndexProgress) -> None:
        self._server.from_thread(self._server._indexing_progress, folder, progress)

    def indexing_finished(self, folder: Folder, report: IndexReport | None, error: str | None) -> None:
        self._server.from_thread(self._server._indexing_finished, folder, report, error)

    def warn(self, message: str) -> None:
        self._server.from_thread(self._server.message, message)
