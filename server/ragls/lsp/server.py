"""The ragls language server: state, lifecycle and LSP handlers.

Where things run (the rule every handler follows):
- State changes (settings, folders, open documents) happen on the event loop, in handlers.
- Index writes run on the one index worker (:mod:`ragls.lsp.workspaces`).
- Searches and answers run in the thread pool on index snapshots (``run_in_executor``), so the
  loop keeps reading messages — a ``$/cancelRequest`` or a hover is never stuck behind an answer.
- Anything sent from another thread goes through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import stat
import sys
from pathlib import Path
from typing import Any, Callable, Coroutine
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams, JsonRpcServerNotInitialized
from pygls.lsp.server import LanguageServer

from ragls import __version__
from ragls.answering import Answerer
from ragls.core.lines import line_at
from ragls.index.preparation import decode_text
from ragls.index.workspace_index import IndexProgress, IndexReport
from ragls.lsp import convert, protocol
from ragls.lsp.progress import ServerProgress
from ragls.lsp.rpc import RaglsProtocol, converter_factory, serve_stdio
from ragls.lsp.workspaces import Folder, FolderSpec, Workspaces
from ragls.settings import Settings, parse_settings

log = logging.getLogger("ragls.lsp")

# Typing in a buffer re-indexes it once this long after the last keystroke.
BUFFER_DEBOUNCE_S = 0.15
CONFIGURATION_TIMEOUT_S = 5.0
# A request that arrives after ``initialize`` waits at most this long for ``initialized``'s set-up.
READY_TIMEOUT_S = 30.0


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
    def __init__(self, cli_settings: dict | None = None, *, force_polling: bool = False) -> None:
        # The stdin reader shares this pool: with few workers a quick request waits behind answers.
        super().__init__(
            "ragls",
            __version__,
            protocol_cls=RaglsProtocol,
            converter_factory=converter_factory,
            max_workers=8,
        )
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
        self._buffer_timers: dict[str, asyncio.TimerHandle] = {}
        self._open_paths: dict[Path, str] = {}  # absolute path of an open document -> its URI
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
        return await loop.run_in_executor(self.thread_pool, functools.partial(fn, *args, **kwargs))

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

    def _client_supports(self, dotted: str) -> bool:
        value: Any = self.client_capabilities
        for part in dotted.split("."):
            value = getattr(value, part, None)
            if value is None:
                return False
        return bool(value)

    # --- documents -----------------------------------------------------------------------------

    def document_text(self, uri: str) -> str | None:
        """The text of ``uri``: the open buffer, else the file — but only a regular file inside a
        workspace folder and under the size limit (a client may name ``/dev/zero``, a FIFO or any
        file on the machine). Reads the disk: call it off the event loop (:meth:`document_text_async`)."""
        doc = self.workspace.text_documents.get(unquote(uri)) if self.workspace else None
        if doc is not None:
            return doc.source
        path = convert.uri_to_path(uri)
        return self.read_workspace_file(path) if path is not None else None

    async def document_text_async(self, uri: str) -> str | None:
        doc = self.workspace.text_documents.get(unquote(uri)) if self.workspace else None
        if doc is not None:  # in memory: no need for a thread
            return doc.source
        return await self.in_pool(self.document_text, uri)

    def read_workspace_file(self, path: Path) -> str | None:
        workspaces = self.workspaces
        if workspaces is None:
            return None
        real = Path(os.path.realpath(path))  # a symlink inside a folder may point anywhere
        if workspaces.folder_for(real) is None:
            return None
        limit = self.settings.index.max_file_size_kb * 1024
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer; the fstat then refuses it
            fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        except OSError:
            return None
        with os.fdopen(fd, "rb") as handle:
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
                    return None
                data = handle.read(limit + 1)
            except OSError:
                return None
        return None if len(data) > limit else decode_text(data)

    def line_lookup(self) -> convert.LineLookup:
        """(path, core line number) -> the line as the user sees it: the open buffer if any, else
        the file. For one result: each file is read once, however many citations point into it."""
        texts: dict[Path, str | None] = {}

        def line_of(path: Path, line: int) -> str | None:
            if path not in texts:
                texts[path] = self.document_text(self._open_paths.get(path) or path.as_uri())
            text = texts[path]
            return line_at(text, line) if text is not None else None

        return line_of

    def document_folder(self, uri: str) -> tuple[Folder, str] | None:
        path = convert.uri_to_path(uri)
        if path is None or self.workspaces is None:
            return None
        path = Path(os.path.abspath(path))
        folder = self.workspaces.folder_for(path)
        if folder is None:
            return None
        rel = folder.relative(path)
        return (folder, rel) if rel else None

    def buffer_opened(self, uri: str, text: str) -> None:
        path = convert.uri_to_path(uri)
        if path is not None:
            self._open_paths[Path(os.path.abspath(path))] = uri
        where = self.document_folder(uri)
        if where is None:
            return
        folder, rel = where
        if not self._buffer_fits(text):
            # Buffers obey the file size limit: a 20 MB buffer is not indexed (its file is not
            # either), and an overlay it had while it was smaller goes back to the disk file.
            self.workspaces.set_buffer(folder, rel, None)
            return
        if self._differs_from_disk(folder.root / rel, text):  # only unsaved differences need an overlay
            self.workspaces.set_buffer(folder, rel, text)

    def _buffer_fits(self, text: str) -> bool:
        limit = self.settings.index.max_file_size_kb * 1024
        return len(text) <= limit and len(text.encode("utf-8", "surrogatepass")) <= limit

    def _differs_from_disk(self, path: Path, text: str) -> bool:
        try:
            st = os.stat(path)
            if not stat.S_ISREG(st.st_mode) or st.st_size != len(text.encode("utf-8", "surrogatepass")):
                return True  # decided without reading (this runs on the event loop)
            with open(path, "rb") as handle:
                return decode_text(handle.read(st.st_size + 1)) != text
        except OSError:
            return True

    def buffer_changed(self, uri: str) -> None:
        if (timer := self._buffer_timers.pop(uri, None)) is not None:
            timer.cancel()
        self._buffer_timers[uri] = asyncio.get_running_loop().call_later(BUFFER_DEBOUNCE_S, self._flush_buffer, uri)

    def _flush_buffer(self, uri: str) -> None:
        self._buffer_timers.pop(uri, None)
        doc = self.workspace.text_documents.get(unquote(uri))
        where = self.document_folder(uri)
        if doc is None or where is None:
            return
        folder, rel = where
        self.workspaces.set_buffer(folder, rel, doc.source if self._buffer_fits(doc.source) else None)

    def buffer_closed(self, uri: str) -> None:
        if (timer := self._buffer_timers.pop(uri, None)) is not None:
            timer.cancel()
        path = convert.uri_to_path(uri)
        if path is not None:
            self._open_paths.pop(Path(os.path.abspath(path)), None)
        where = self.document_folder(uri)
        if where is not None:
            self.workspaces.set_buffer(where[0], where[1], None)

    def _overlay_open_documents(self) -> None:
        """Buffers opened before their folder existed (during startup) get their overlay now."""
        for doc in list(self.workspace.text_documents.values()):
            self.buffer_opened(doc.uri, doc.source)

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
            self._overlay_open_documents()
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

    def model_status(self) -> dict:
        quiet = {"warnings": [], "processId": None, "rssMb": None, "recentCrashes": 0, "lastCrash": None}
        if self.model is None:
            return {"state": "none", "detail": "no model configured: answers are extractive", "path": None, "adapters": [], **quiet}
        try:
            status = self.model.status()
        except Exception as exc:
            return {"state": "failed", "detail": str(exc), "path": self.settings.model.path, "adapters": [], **quiet}
        adapters = [
            {"name": a.name, "scale": a.scale, "active": bool(getattr(a, "active", False))}
            for a in getattr(status, "adapters", ()) or ()
        ]
        return {
            "state": status.state,
            "detail": str(status.detail),
            "path": status.path or self.settings.model.path,
            "adapters": adapters,
            "warnings": list(status.warnings),
            "processId": status.process_id,
            "rssMb": status.rss_mb,
            "recentCrashes": status.recent_crashes,
            "lastCrash": status.last_crash,
        }

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
        self._overlay_open_documents()

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
        self._overlay_open_documents()

    def on_shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        for timer in self._buffer_timers.values():
            timer.cancel()
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


# --- error handling for request handlers ------------------------------------------------------

def answers_errors(handler: Callable) -> Callable:
    """Bad params → InvalidParams; any other failure is logged and answered with InternalError.

    The server keeps serving either way; cancellation passes through untouched.
    """

    @functools.wraps(handler)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return await handler(*args, **kwargs)
        except protocol.InvalidParams as exc:
            raise JsonRpcInvalidParams(str(exc)) from None
        except (asyncio.CancelledError, JsonRpcException):
            raise
        except Exception as exc:
            log.exception("request %s failed", handler.__name__)
            raise JsonRpcInternalError(f"ragls internal error in {handler.__name__}: {exc}") from exc

    return wrapped


# --- running ---------------------------------------------------------------------------------------

class _ClientLogHandler(logging.Handler):
    """Mirrors ragls' own log records to the editor's log (``window/logMessage``)."""

    _LEVELS = {
        logging.ERROR: types.MessageType.Error,
        logging.WARNING: types.MessageType.Warning,
        logging.INFO: types.MessageType.Info,
    }

    def __init__(self, server: RaglsServer) -> None:
        super().__init__(level=logging.INFO)
        self._server = server

    def emit(self, record: logging.LogRecord) -> None:
        if self._server.loop is None or self._server._shut_down:
            return
        try:
            kind = next((t for level, t in self._LEVELS.items() if record.levelno >= level), types.MessageType.Log)
            params = types.LogMessageParams(type=kind, message=self.format(record))
            self._server.from_thread(self._server.window_log_message, params)
        except Exception:  # logging must never raise into the code that logged
            self.handleError(record)


def serve(args: Any = None, cli_settings: dict | None = None) -> int:
    """Run the language server (``ragls --stdio``, ``ragls serve [--tcp HOST:PORT]``);
    ``cli_settings``: raw settings from the command line (``cli.raw_model_settings``)."""
    from ragls.lsp.handlers import create_server

    logging.getLogger("ragls").setLevel(logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    logging.getLogger("pygls").setLevel(logging.DEBUG if os.environ.get("RAGLS_DEBUG_PYGLS") else logging.WARNING)  # pygls logs every message body at INFO
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    server = create_server(cli_settings or {}, force_polling=os.environ.get("RAGLS_FORCE_POLLING") == "1")
    logging.getLogger("ragls").addHandler(_ClientLogHandler(server))
    tcp = getattr(args, "tcp", None)
    try:
        if tcp:
            host, _, port = tcp.rpartition(":")
            server.start_tcp(host or "127.0.0.1", int(port))
        else:
            # The protocol owns the real stdout. Anything else that writes to fd 1 (a stray print, a
            # C library) would corrupt the message stream, so fd 1 becomes stderr for everyone else.
            if sys.stdin is None or sys.stdout is None:  # started with fd 0 or 1 closed
                log.error("ragls --stdio needs stdin and stdout connected to the editor")
                return 2
            protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
            sys.stdout.flush()
            os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
            sys.stdout = sys.stderr
            return serve_stdio(server, sys.stdin.fileno(), protocol_out)
    finally:
        server.on_shutdown()
    return 0
