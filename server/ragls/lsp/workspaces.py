"""The workspace folders the server serves: one index and one watcher per folder, all writes on the
single :class:`IndexWorker`.

Threads:
- the event loop adds/removes folders and posts jobs (it never waits for the index);
- watcher threads only record changes on their :class:`Folder` and post a coalescing job;
- the index worker runs every job: open, first sync, change batches, buffer overlays, rebuild, close;
- request handlers in the thread pool read ``indexes()`` and search snapshots.

The folder map is replaced, never mutated in place, so readers on other threads always iterate a
consistent snapshot.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ragls.index.watcher import ChangeBatch, WorkspaceWatcher
from ragls.index.workspace_index import TAKEOVER_RETRY_S, IndexProgress, IndexReport, WorkspaceIndex, default_index_dir
from ragls.lsp.index_worker import IndexWorker
from ragls.settings import IndexSettings

log = logging.getLogger(__name__)

# How often each folder's root is checked for having been deleted or replaced (``rm -rf ws && git
# clone …``): inotify says nothing once the watched directory itself is gone, so a stat per folder
# on this clock is the one signal that always works (and costs nothing).
ROOT_CHECK_INTERVAL_S = 0.5


def root_identity(root: Path) -> tuple[int, int] | None:
    """(device, inode) of the folder ``root``; None when it is missing or not a folder."""
    try:
        st = os.stat(root)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


class WorkspacesListener(Protocol):
    """What the server wants to hear about (called from the index worker or watcher threads)."""

    def indexing_started(self, folder: "Folder", rebuild: bool) -> None: ...
    def indexing_progress(self, folder: "Folder", progress: IndexProgress) -> None: ...
    def indexing_finished(self, folder: "Folder", report: IndexReport | None, error: str | None) -> None: ...
    def warn(self, message: str) -> None: ...


class Folder:
    """One workspace folder. ``index``/``watcher`` are set and cleared by the index worker only."""

    def __init__(self, uri: str, root: Path, index_dir: Path) -> None:
        self.uri = uri
        self.root = root
        self.index_dir = index_dir
        self.index: WorkspaceIndex | None = None
        self.watcher: WorkspaceWatcher | None = None
        self.indexing = False
        self.synced = False  # the first sync ended (done, cancelled or failed)
        self.closed = False
        self.error: str | None = None
        self.root_id: tuple[int, int] | None = None  # the root folder the index and watcher follow
        self.root_missing = False  # the root was not there when last looked at (see ROOT_CHECK_INTERVAL_S)
        self.cancel = threading.Event()  # stops a running sync; replaced for each new sync
        self._lock = threading.Lock()
        self._paths: set[str] = set()
        self._removed_dirs: set[str] = set()
        self._full_scan = False
        self._overlays: dict[str, str | None] = {}

    @property
    def key(self) -> str:
        return str(self.root)

    @property
    def name(self) -> str:
        return self.root.name or str(self.root)

    # changes recorded by the watcher, taken by the worker
    def add_batch(self, batch: ChangeBatch) -> None:
        with self._lock:
            self._paths |= batch.paths
            self._removed_dirs |= batch.removed_dirs
            self._full_scan |= batch.needs_full_scan

    def take_changes(self) -> tuple[set[str], set[str], bool]:
        with self._lock:
            taken = (self._paths, self._removed_dirs, self._full_scan)
            self._paths, self._removed_dirs, self._full_scan = set(), set(), False
            return taken

    def put_overlay(self, rel_path: str, text: str | None) -> None:
        with self._lock:
            self._overlays[rel_path] = text

    def take_overlays(self) -> dict[str, str | None]:
        with self._lock:
            taken, self._overlays = self._overlays, {}
            return taken

    @property
    def pending_changes(self) -> int:
        with self._lock:
            recorded = len(self._paths) + len(self._removed_dirs) + len(self._overlays)
        return recorded + (self.watcher.pending if self.watcher else 0)

    def relative(self, path: Path) -> str | None:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class FolderSpec:
    uri: str
    root: Path


class Workspaces:
    def __init__(self, settings: IndexSettings, listener: WorkspacesListener, *, force_polling: bool = False) -> None:
        self.settings = settings
        self._listener = listener
        self._force_polling = force_polling
        self.worker = IndexWorker(log)
        self._folders: dict[str, Folder] = {}  # key -> folder; replaced on change (see module doc)
        self._stopping = threading.Event()
        self._root_checker = threading.Thread(target=self._check_roots, name="ragls-root-check", daemon=True)
        self._root_checker.start()

    # --- reading (any thread) -------------------------------------------------------------------

    @property
    def folders(self) -> tuple[Folder, ...]:
        return tuple(self._folders.values())

    def indexes(self) -> list[WorkspaceIndex]:
        return [f.index for f in self.folders if f.index is not None and not f.closed]

    @property
    def index_complete(self) -> bool:
        return all(f.synced and not f.indexing for f in self.folders)

    def folder_for(self, path: Path) -> Folder | None:
        """The innermost folder containing ``path`` (nested folders: the deepest wins)."""
        best = None
        for folder in self.folders:
            if folder.relative(path) is not None and (best is None or len(folder.key) > len(best.key)):
                best = folder
        return best

    def index_dir_for(self, root: Path) -> Path:
        # settings.index_dir is a parent: each folder needs its own index (one writer per index)
        default = default_index_dir(root)
        if self.settings.index_dir:
            return Path(self.settings.index_dir).expanduser().resolve() / default.name
        return default

    # --- changing the set of folders (event loop) --------------------------------------------

    def add(self, spec: FolderSpec) -> Folder | None:
        root = spec.root.resolve()
        if str(root) in self._folders:
            return None
        folder = Folder(spec.uri, root, self.index_dir_for(root))
        self._folders = {**self._folders, folder.key: folder}
        self.worker.post(f"open {folder.name}", lambda: self._open(folder))
        return folder

    def remove(self, root: Path) -> Folder | None:
        key = str(root.resolve())
        folder = self._folders.get(key)
        if folder is None:
            return None
        self._folders = {k: f for k, f in self._folders.items() if k != key}
        folder.closed = True
        folder.cancel.set()
        self.worker.post(f"close {folder.name}", lambda: self._close(folder))
        return folder

    def reindex(self) -> None:
        """Rebuild every folder's index from scratch (cancels a running sync first)."""
        for folder in self.folders:
            self._restart_sync(folder, rebuild=True)

    def _restart_sync(self, folder: Folder, *, rebuild: bool) -> None:
        previous, folder.cancel = folder.cancel, threading.Event()
        previous.set()
        cancel = folder.cancel
        self.worker.post(f"{'rebuild' if rebuild else 'sync'} {folder.name}", lambda: self._sync(folder, cancel, rebuild=rebuild))

    def set_buffer(self, folder: Folder, rel_path: str, text: str | None) -> None:
        """An editor buffer's unsaved text (None: closed, back to the file on disk)."""
        folder.put_overlay(rel_path, text)
        self.worker.post(f"buffers {folder.name}", lambda: self._apply_overlays(folder), key=("buffers", folder.key))

    def close(self, timeout: float = 10.0) -> None:
        """Stop watching and writing; used at shutdown."""
        folders = self.folders
        self._folders = {}
        self._stopping.set()
        for folder in folders:
            folder.closed = True
            folder.cancel.set()
            self.worker.post(f"close {folder.name}", lambda f=folder: self._close(f))
        self.worker.stop(timeout)

    # --- jobs (index worker thread) ------------------------------------------------------------

    def _open(self, folder: Folder) -> None:
        if folder.closed:
            return
        folder.root_id = root_identity(folder.root)
        folder.root_missing = folder.root_id is None
        try:
            index = WorkspaceIndex(folder.root, self.settings, index_dir=folder.index_dir, log=log)
        except Exception as exc:
            folder.error = f"cannot index {folder.root}: {exc}"
            if folder.root_missing:
                folder.error += "; ragls starts indexing it when it appears"
            folder.synced = True
            log.warning("%s", folder.error)
            self._listener.warn(folder.error)
            self._listener.indexing_finished(folder, None, folder.error)
            return
        folder.error = None
        folder.index = index
        for message in index.messages:
            self._listener.warn(message)
        # Watch before the first sync so nothing written during it is missed (re-reading is idempotent).
        self._start_watcher(folder, index)
        self._sync(folder, folder.cancel, rebuild=False)

    def _start_watcher(self, folder: Folder, index: WorkspaceIndex) -> None:
        watcher = WorkspaceWatcher(
            folder.root,
            lambda batch: self._on_batch(folder, batch),
            # A deleted file no longer "would be indexed", but its deletion must still get through.
            accepts=lambda rel: index.accepts(rel) or index.is_indexed(rel),
            is_ignore_file=index.ignore_file_changed,
            force_polling=self._force_polling,
            log=log,
        )
        try:
            watcher.start()
            folder.watcher = watcher
            if watcher.fallback_reason:
                self._listener.warn(f"ragls ({folder.name}): {watcher.fallback_reason}")
        except Exception as exc:
            log.warning("cannot watch %s: %s; changes are picked up by the next reindex", folder.root, exc)
            self._listener.warn(f"ragls cannot watch {folder.root} for changes: {exc}")

    # --- a root folder deleted, replaced or (re)appearing ---------------------------------------

    def _check_roots(self) -> None:  # own thread: one stat per folder per tick, jobs for the worker
        next_takeover = time.monotonic() + TAKEOVER_RETRY_S
        while not self._stopping.wait(ROOT_CHECK_INTERVAL_S):
            if time.monotonic() >= next_takeover:
                next_takeover = time.monotonic() + TAKEOVER_RETRY_S
                self._offer_takeovers()
            for folder in self.folders:
                if folder.closed:
                    continue
                current = root_identity(folder.root)
                if folder.index is None:
                    if folder.root_missing and current is not None:  # it appeared after a failed open
                        self.worker.post(f"open {folder.name}", lambda f=folder: self._open(f), key=("root", folder.key))
                elif current != folder.root_id:
                    self.worker.post(f"root {folder.name}", lambda f=folder: self._root_changed(f), key=("root", folder.key))

    # --- one writer per index: take over when the owner is gone ------------------------------

    def _offer_takeovers(self) -> None:
        """A follower (another ragls process writes its index: an editor's server, ``ragls mcp``)
        tries to take the writer every ``TAKEOVER_RETRY_S``, so the index stays live after the
        owner exits even when no file changes here."""
        for folder in self.folders:
            index = folder.index
            if index is not None and index.read_only and not folder.closed:
                self.worker.post(
                    f"take over {folder.name}", lambda f=folder, ix=index: self._take_over(f, ix), key=("takeover", folder.key)
                )

    def _take_over(self, folder: Folder, index: WorkspaceIndex) -> None:  # index worker thread
        if folder.closed or folder.index is not index or not index.read_only:
            return
        if index.try_take_writer():
            log.info("%s: the other ragls process stopped writing its index; this server writes it now", folder.root)
            report = index.sync(cancel=folder.cancel)
            log.info("%s: caught up (+%d ~%d -%d)", folder.root, report.added, report.updated, report.removed)

    def _root_changed(self, folder: Folder) -> None:
        index = folder.index
        current = root_identity(folder.root)
        if folder.closed or index is None or current == folder.root_id:
            return
        # The watcher follows the old directory (inotify watches inodes): it sees nothing of a
        # recreated folder and nothing at all once the folder is gone.
        if folder.watcher is not None:
            folder.watcher.stop()
            folder.watcher = None
        folder.root_id, folder.root_missing = current, current is None
        if current is None:
            folder.error = f"the workspace folder {folder.root} was deleted; ragls indexes it again when it comes back"
            log.warning("%s", folder.error)
            self._listener.warn(f"ragls: {folder.error}")
        else:
            folder.error = None
            log.info("workspace folder %s is back (or was replaced): watching and indexing it again", folder.root)
            self._start_watcher(folder, index)
        # Either way the index must say what is there now: nothing, or the new folder's files.
        self._sync(folder, folder.cancel, rebuild=False)

    def _sync(self, folder: Folder, cancel: threading.Event, *, rebuild: bool) -> None:
        index = folder.index
        if folder.closed or index is None or cancel.is_set():
            return
        folder.indexing = True
        self._listener.indexing_started(folder, rebuild)
        report, error = None, None
        try:
            run = index.rebuild if rebuild else index.sync
            report = run(progress=lambda p: self._listener.indexing_progress(folder, p), cancel=cancel)
            for message in report.messages:
                log.info("%s: %s", folder.name, message)
        except Exception as exc:
            log.exception("indexing %s failed", folder.root)
            error = f"indexing {folder.root} failed: {exc}"
            folder.error = error
        finally:
            folder.indexing = False
            folder.synced = True
        self._listener.indexing_finished(folder, report, error)

    def _on_batch(self, folder: Folder, batch: ChangeBatch) -> None:  # watcher thread
        folder.add_batch(batch)
        self.worker.post(f"changes {folder.name}", lambda: self._apply_changes(folder), key=("changes", folder.key))

    def _apply_changes(self, folder: Folder) -> None:
        paths, removed_dirs, full_scan = folder.take_changes()
        index = folder.index
        if folder.closed or index is None:
            return
        started = time.perf_counter()
        if full_scan:
            # Ignore rules changed or events were lost: only a full (incremental) scan knows what
            # the index should hold now.
            report = index.sync(cancel=folder.cancel)
        else:
            # a directory that left names no files: update_paths drops what was indexed under it
            report = index.update_paths(paths | removed_dirs)
        log.debug(
            "%s: %d changed paths -> +%d ~%d -%d in %.0f ms",
            folder.name, len(paths), report.added, report.updated, report.removed, (time.perf_counter() - started) * 1000,
        )

    def _apply_overlays(self, folder: Folder) -> None:
        overlays = folder.take_overlays()
        index = folder.index
        if folder.closed or index is None:
            return
        for rel_path, text in overlays.items():
            index.set_overlay(rel_path, text)

    def _close(self, folder: Folder) -> None:
        if folder.watcher is not None:
            folder.watcher.stop()
            folder.watcher = None
        if folder.index is not None:
            folder.index.close()
            folder.index = None
