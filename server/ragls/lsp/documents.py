"""The open-document store: what the editor has open, mirrored into the index as overlays, and how
any document's text is read.

pygls keeps each open buffer's text; this store decides what the index sees of it. A buffer that
differs from its file is indexed in its place (an overlay, so citations use the buffer's line
numbers); typing re-indexes it once ``BUFFER_DEBOUNCE_S`` after the last keystroke; closing it
returns the index to the disk file. Buffers obey the same size limit as files.

A document the client did not open is read only as a regular file inside a workspace folder,
under the size limit, off the event loop (:meth:`OpenDocuments.text_async`).
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any, Callable, Protocol
from urllib.parse import unquote

from ragls.core.lines import line_at
from ragls.index.preparation import decode_text
from ragls.lsp import convert
from ragls.lsp.workspaces import Folder, Workspaces
from ragls.settings import Settings

# Typing in a buffer re-indexes it once this long after the last keystroke.
BUFFER_DEBOUNCE_S = 0.15


class DocumentHost(Protocol):
    """What the store reads from the server that owns it (state that changes on the event loop)."""

    @property
    def workspace(self) -> Any: ...  # pygls' workspace: the open buffers

    workspaces: Workspaces | None
    settings: Settings

    async def in_pool(self, fn: Callable, *args: Any, **kwargs: Any) -> Any: ...


class OpenDocuments:
    def __init__(self, host: DocumentHost) -> None:
        self._host = host
        self._buffer_timers: dict[str, asyncio.TimerHandle] = {}
        self._open_paths: dict[Path, str] = {}  # absolute path of an open document -> its URI

    # --- reading -------------------------------------------------------------------------------

    def _buffer(self, uri: str) -> Any:
        workspace = self._host.workspace
        return workspace.text_documents.get(unquote(uri)) if workspace else None

    def text(self, uri: str) -> str | None:
        """The text of ``uri``: the open buffer, else the file — but only a regular file inside a
        workspace folder and under the size limit (a client may name ``/dev/zero``, a FIFO or any
        file on the machine). Reads the disk: call it off the event loop (:meth:`text_async`)."""
        doc = self._buffer(uri)
        if doc is not None:
            return doc.source
        path = convert.uri_to_path(uri)
        return self.read_workspace_file(path) if path is not None else None

    async def text_async(self, uri: str) -> str | None:
        doc = self._buffer(uri)
        if doc is not None:  # in memory: no need for a thread
            return doc.source
        return await self._host.in_pool(self.text, uri)

    def read_workspace_file(self, path: Path) -> str | None:
        workspaces = self._host.workspaces
        if workspaces is None:
            return None
        real = Path(os.path.realpath(path))  # a symlink inside a folder may point anywhere
        if workspaces.folder_for(real) is None:
            return None
        limit = self._size_limit()
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
                texts[path] = self.text(self._open_paths.get(path) or path.as_uri())
            text = texts[path]
            return line_at(text, line) if text is not None else None

        return line_of

    def folder_of(self, uri: str) -> tuple[Folder, str] | None:
        """The workspace folder holding ``uri`` and its path relative to the folder's root."""
        path = convert.uri_to_path(uri)
        workspaces = self._host.workspaces
        if path is None or workspaces is None:
            return None
        path = Path(os.path.abspath(path))
        folder = workspaces.folder_for(path)
        if folder is None:
            return None
        rel = folder.relative(path)
        return (folder, rel) if rel else None

    # --- buffers -------------------------------------------------------------------------------

    def opened(self, uri: str, text: str) -> None:
        path = convert.uri_to_path(uri)
        if path is not None:
            self._open_paths[Path(os.path.abspath(path))] = uri
        where = self.folder_of(uri)
        if where is None:
            return
        folder, rel = where
        if not self._fits(text):
            # Buffers obey the file size limit: a 20 MB buffer is not indexed (its file is not
            # either), and an overlay it had while it was smaller goes back to the disk file.
            self._host.workspaces.set_buffer(folder, rel, None)
            return
        if self._differs_from_disk(folder.root / rel, text):  # only unsaved differences need an overlay
            self._host.workspaces.set_buffer(folder, rel, text)

    def changed(self, uri: str) -> None:
        if (timer := self._buffer_timers.pop(uri, None)) is not None:
            timer.cancel()
        self._buffer_timers[uri] = asyncio.get_running_loop().call_later(BUFFER_DEBOUNCE_S, self._flush, uri)

    def closed(self, uri: str) -> None:
        if (timer := self._buffer_timers.pop(uri, None)) is not None:
            timer.cancel()
        path = convert.uri_to_path(uri)
        if path is not None:
            self._open_paths.pop(Path(os.path.abspath(path)), None)
        where = self.folder_of(uri)
        if where is not None:
            self._host.workspaces.set_buffer(where[0], where[1], None)

    def overlay_all(self) -> None:
        """Buffers opened before their folder existed (during startup, or before the folder was
        added or re-opened) get their overlay now."""
        for doc in list(self._host.workspace.text_documents.values()):
            self.opened(doc.uri, doc.source)

    def close(self) -> None:
        """Stop the pending re-indexing of typed text (at shutdown)."""
        for timer in self._buffer_timers.values():
            timer.cancel()

    def _flush(self, uri: str) -> None:
        self._buffer_timers.pop(uri, None)
        doc = self._buffer(uri)
        where = self.folder_of(uri)
        if doc is None or where is None:
            return
        folder, rel = where
        self._host.workspaces.set_buffer(folder, rel, doc.source if self._fits(doc.source) else None)

    def _size_limit(self) -> int:
        return self._host.settings.index.max_file_size_kb * 1024

    def _fits(self, text: str) -> bool:
        limit = self._size_limit()
        return len(text) <= limit and len(text.encode("utf-8", "surrogatepass")) <= limit

    @staticmethod
    def _differs_from_disk(path: Path, text: str) -> bool:
        try:
            st = os.stat(path)
            if not stat.S_ISREG(st.st_mode) or st.st_size != len(text.encode("utf-8", "surrogatepass")):
                return True  # decided without reading (this runs on the event loop)
            with open(path, "rb") as handle:
                return decode_text(handle.read(st.st_size + 1)) != text
        except OSError:
            return True
