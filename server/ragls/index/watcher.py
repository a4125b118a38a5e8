"""File-system watching for one workspace root: raw watchdog events in, debounced batches out.

Editors and tools produce noisy event streams: an atomic save is "create temp, write, rename over
the target"; a branch switch is thousands of events in a second. The watcher reduces them to
*which paths may have changed* and hands them over in batches after a short quiet window, so the
index writer re-reads each path once. It never decides what a path's new content is — the index
re-reads the disk — which makes coalescing safe: any event on a path means "look at it again".

inotify (watchdog's Linux ``Observer``) is used when the OS allows it; when the watch limit is
reached (``OSError`` ENOSPC/EMFILE) the watcher falls back to polling and says so in ``mode`` and
``fallback_reason`` so the server can tell the user. ``RAGLS_FORCE_POLLING=1`` (read by the server,
passed here as ``force_polling``) takes the same path on purpose, for tests and benchmarks.

Polling (:class:`_PacedPollingEmitter`) stats the folders every ``polling_interval_s`` and re-lists
those that changed, so a created, deleted or renamed file is seen within the interval; the full
pass over every file (for edits in place) is paced so that it uses at most ``POLLING_CPU_SHARE`` of
one core. On 100,000 files watchdog's own poller, re-listing everything each second, used 36% of a
core and noticed a new file after 3.4 s (benchmarks/bench_scale.py, docs/BENCHMARKS.md). Folders
the index always leaves out (``node_modules``, ``.git``, …) are not listed at all, except
``.git/info``, whose ``exclude`` file is an ignore file.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from watchdog.events import (
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileOpenedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, EventEmitter

from ragls.core.workspace import PRUNED_DIRS, IgnoreRules

WatchMode = Literal["inotify", "polling", "off"]

# Version-control internals change on every git command and are never indexed; dropping them before
# any other check keeps a `git checkout` from flooding the filter.
_VCS_DIRS = frozenset({".git", ".hg", ".svn"})
# Events that say nothing about content.
_NOISE = (FileOpenedEvent, FileClosedNoWriteEvent)
# The most of one core the polling fallback's full passes may use; a large tree waits longer.
POLLING_CPU_SHARE = 0.05


def _polling_listdir(path):
    """``os.scandir`` for polling, without what the index never holds (see module doc)."""
    with os.scandir(path) as scanned:
        entries = list(scanned)
    name = os.path.basename(os.fsdecode(path))
    if name in _VCS_DIRS:
        return [e for e in entries if e.name == "info"]
    return [e for e in entries if not (e.name in PRUNED_DIRS and e.name not in _VCS_DIRS and e.is_dir(follow_symlinks=False))]


class _PollState:
    """What one pass saw: each file's (mtime, size), each folder's mtime and entries."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, int]] = {}
        self.dirs: dict[str, int] = {}
        self.entries: dict[str, dict[str, bool]] = {}  # folder -> name -> is a folder

    def scan(self, top: str) -> None:
        """Add ``top`` and everything below it."""
        stack = [top]
        while stack:
            folder = stack.pop()
            try:
                self.dirs[folder] = os.stat(folder).st_mtime_ns
                listed = _polling_listdir(folder)
            except OSError:  # gone mid-walk: its parent's next listing says so
                self.dirs.pop(folder, None)
                continue
            names: dict[str, bool] = {}
            for entry in listed:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        names[entry.name] = True
                        stack.append(entry.path)
                    else:
                        st = entry.stat(follow_symlinks=False)
                        self.files[entry.path] = (st.st_mtime_ns, st.st_size)
                        names[entry.name] = False
                except OSError:
                    continue
            self.entries[folder] = names

    def drop(self, folder: str) -> list[str]:
        """Forget ``folder`` and everything below it; returns the files that were there."""
        prefix = folder + os.sep
        gone = [p for p in self.files if p.startswith(prefix)]
        for path in gone:
            del self.files[path]
        for known in [d for d in self.dirs if d == folder or d.startswith(prefix)]:
            del self.dirs[known]
            self.entries.pop(known, None)
        return gone


class _PacedPollingEmitter(EventEmitter):
    """Polls in two tiers. Every interval, a *folder pass* stats each folder (1,000 folders: a few
    ms) and re-lists only those whose mtime moved: files created, deleted or renamed are seen
    within an interval. A *full pass* stats every file, for edits in place; it runs only as often
    as keeps it under ``POLLING_CPU_SHARE`` of a core. Events are plain creates, deletes and
    modifications (a move is both ends): the watcher only needs to know which paths to re-read."""

    def __init__(self, event_queue, watch, timeout: float = 1.0, event_filter=None) -> None:
        super().__init__(event_queue, watch, timeout=timeout, event_filter=event_filter)
        self._state = _PollState()
        self._next_full = 0.0
        self.last_pass_cpu_s = 0.0  # the last full pass

    def on_thread_start(self) -> None:  # (runs in the thread that starts the observer)
        started = time.thread_time()
        self._state.scan(self.watch.path)
        self.last_pass_cpu_s = time.thread_time() - started
        self._next_full = time.monotonic() + self.full_pass_wait_s()

    def full_pass_wait_s(self) -> float:
        return self.last_pass_cpu_s * (1 / POLLING_CPU_SHARE - 1)

    def queue_events(self, timeout: float) -> None:
        if self.stopped_event.wait(timeout):
            return
        if not os.path.isdir(self.watch.path):
            self.queue_event(DirDeletedEvent(self.watch.path))
            self.stop()
            return
        if time.monotonic() >= self._next_full:
            started = time.thread_time()
            self._full_pass()
            self.last_pass_cpu_s = time.thread_time() - started
            self._next_full = time.monotonic() + self.full_pass_wait_s()
        else:
            self._folder_pass()

    def _full_pass(self) -> None:
        old, new = self._state, _PollState()
        new.scan(self.watch.path)
        self._state = new
        for path, seen in new.files.items():
            before = old.files.get(path)
            if before is None:
                self.queue_event(FileCreatedEvent(path))
            elif before != seen:
                self.queue_event(FileModifiedEvent(path))
        for path in old.files.keys() - new.files.keys():
            self.queue_event(FileDeletedEvent(path))
        for folder in old.dirs.keys() - new.dirs.keys():
            self.queue_event(DirDeletedEvent(folder))

    def _folder_pass(self) -> None:
        state = self._state
        moved = []
        for folder, mtime in list(state.dirs.items()):
            try:
                if os.stat(folder).st_mtime_ns != mtime:
                    moved.append(folder)
            except OSError:
                pass  # gone: its parent's mtime moved too
        for folder in sorted(moved, key=len):  # parents first: a dropped subtree is skipped
            if folder not in state.dirs:
                continue
            before = state.entries.get(folder, {})
            try:
                state.dirs[folder] = os.stat(folder).st_mtime_ns
                listed = {e.name: e for e in _polling_listdir(folder)}
            except OSError:
                continue
            now: dict[str, bool] = {}
            for name, entry in listed.items():
                path = os.path.join(folder, name)
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                now[name] = is_dir
                if name in before and before[name] == is_dir:
                    continue
                if name in before:  # a file became a folder or the other way round
                    self._gone(folder, name, before[name])
                if is_dir:
                    known = set(state.files)
                    state.scan(path)
                    for created in state.files.keys() - known:
                        self.queue_event(FileCreatedEvent(created))
                else:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    state.files[path] = (st.st_mtime_ns, st.st_size)
                    self.queue_event(FileCreatedEvent(path))
            for name, was_dir in before.items():
                if name not in now:
                    self._gone(folder, name, was_dir)
            state.entries[folder] = now

    def _gone(self, folder: str, name: str, was_dir: bool) -> None:
        path = os.path.join(folder, name)
        if was_dir:
            self._state.drop(path)
            self.queue_event(DirDeletedEvent(path))
        elif self._state.files.pop(path, None) is not None:
            self.queue_event(FileDeletedEvent(path))


class PacedPollingObserver(BaseObserver):
    """A polling observer whose interval stretches with the tree (see :class:`_PacedPollingEmitter`)."""

    def __init__(self, timeout: float = 1.0) -> None:
        super().__init__(_PacedPollingEmitter, timeout=timeout)

    @property
    def pass_cpu_s(self) -> float:
        """CPU seconds the last full pass over the tree took (the largest over the watched roots)."""
        return max((getattr(e, "last_pass_cpu_s", 0.0) for e in self.emitters), default=0.0)


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """Paths that may have changed since the last batch (root-relative, POSIX separators)."""

    paths: frozenset[str]  # files created/modified/deleted, both ends of a move: re-read each
    removed_dirs: frozenset[str]  # directories gone (deleted or moved out): drop what was under them
    ignore_files_changed: bool  # a .gitignore/.raglsignore changed: the set of indexed files may differ
    rescan: bool  # events were lost (kernel queue overflow): only a full scan is correct now

    @property
    def needs_full_scan(self) -> bool:
        return self.ignore_files_changed or self.rescan


class _Collector(FileSystemEventHandler):
    """Receives watchdog events (on watchdog's thread) and files them into the pending batch."""

    def __init__(self, watcher: "WorkspaceWatcher") -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self._watcher._record(event)
        except Exception:  # an exception here would kill watchdog's emitter thread silently
            self._watcher._log.exception("ragls watcher: failed to record %r", event)


class WorkspaceWatcher:
    """Watches ``root`` recursively and calls ``on_batch`` with coalesced :class:`ChangeBatch` es.

    ``accepts(rel_path)`` filters files early (ignore rules, extensions), so ignored churn
    (``node_modules``, build output) never reaches the index. ``on_batch`` runs on the watcher's own
    flush thread; it should only hand the batch over (e.g. to the index writer's queue).

    A batch is delivered once no event arrived for ``quiet_s``, or at the latest ``max_delay_s``
    after the first event of the batch, so a continuous burst still makes progress.
    """

    def __init__(
        self,
        root: str | Path,
        on_batch: Callable[[ChangeBatch], None],
        *,
        accepts: Callable[[str], bool] = lambda rel: True,
        is_ignore_file: Callable[[str], bool] | None = None,
        quiet_s: float = 0.05,
        max_delay_s: float = 0.5,
        force_polling: bool = False,
        polling_interval_s: float = 1.0,
        observer_factory: Callable[[], object] = Observer,
        log: logging.Logger | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self._root_str = str(self.root)
        self._on_batch = on_batch
        self._accepts = accepts
        self._is_ignore_file = is_ignore_file or IgnoreRules.is_ignore_file
        self._quiet_s = quiet_s
        self._max_delay_s = max_delay_s
        self._force_polling = force_polling
        self._polling_interval_s = polling_interval_s
        self._observer_factory = observer_factory
        self._log = log or logging.getLogger("ragls.watcher")

        self.mode: WatchMode = "off"
        self.fallback_reason: str | None = None  # why inotify was not used, for the user

        self._lock = threading.Condition()
        self._paths: set[str] = set()
        self._removed_dirs: set[str] = set()
        self._ignore_files_changed = False
        self._rescan = False
        self._first_event_at: float | None = None
        self._last_event_at = 0.0
        self._stopping = False
        self._observer: object | None = None
        self._flusher: threading.Thread | None = None
        self.events_seen = 0  # raw events, for tests and status
        self.batches_sent = 0

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> WatchMode:
        """Start watching; returns the mode used. Raises FileNotFoundError for a missing root."""
        if not self.root.is_dir():
            raise FileNotFoundError(self._root_str)
        handler = _Collector(self)
        observer = None
        if not self._force_polling:
            try:
                observer = self._start_observer(self._observer_factory(), handler)
                self.mode = "inotify"
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EMFILE):
                    raise
                self.fallback_reason = (
                    f"the OS file-watch limit is reached ({os.strerror(exc.errno)}); "
                    "ragls polls for changes instead, which is slower. Raise fs.inotify.max_user_watches "
                    "/ max_user_instances to fix this."
                )
                self._log.warning("ragls watcher: %s (%s)", self.fallback_reason, self._root_str)
        if observer is None:
            observer = self._start_observer(PacedPollingObserver(timeout=self._polling_interval_s), handler)
            self.mode = "polling"
        self._observer = observer
        _OverflowListener.register(self)
        self._flusher = threading.Thread(target=self._flush_loop, name=f"ragls-watch-{self.root.name}", daemon=True)
        self._flusher.start()
        return self.mode

    def _start_observer(self, observer, handler: FileSystemEventHandler):
        try:
            observer.schedule(handler, self._root_str, recursive=True)
            observer.start()
        except BaseException:
            try:  # a half-started observer would keep its threads (and watches) alive
                observer.stop()
            except Exception:
                pass
            raise
        return observer

    def stop(self) -> None:
        """Stop watching; pending changes are dropped (the next full sync picks them up)."""
        _OverflowListener.unregister(self)
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._observer is not None:
            self._observer.stop()
            try:
                self._observer.join(timeout=5)
            except RuntimeError:
                pass
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        self.mode = "off"

    @property
    def pending(self) -> int:
        """How many paths wait in the current (not yet delivered) batch."""
        with self._lock:
            return len(self._paths) + len(self._removed_dirs)

    # --- events -------------------------------------------------------------------------------

    def _relative(self, path: str | bytes) -> str | None:
        path = os.fsdecode(path)
        if path == self._root_str:
            return None
        if not path.startswith(self._root_str + os.sep):
            return None
        rel = path[len(self._root_str) + 1 :].replace(os.sep, "/")
        first = rel.split("/", 1)[0]
        if first in _VCS_DIRS and not IgnoreRules.is_ignore_file(rel):  # .git/info/exclude matters
            return None
        return rel

    def _record(self, event: FileSystemEvent) -> None:
        if isinstance(event, _NOISE):
            return
        self.events_seen += 1
        ends = [event.src_path]
        if getattr(event, "dest_path", None):
            ends.append(event.dest_path)
        paths: list[str] = []
        removed_dirs: list[str] = []
        ignore_changed = False
        if event.is_directory:
            # Contents of created/moved directories arrive as their own file events (watchdog
            # generates them); only a directory that leaves the tree needs a special case, since
            # nothing is said about the files that left with it.
            if isinstance(event, (DirDeletedEvent, DirMovedEvent)):
                rel = self._relative(event.src_path)
                if rel is not None:
                    removed_dirs.append(rel)
        else:
            for end in ends:
                rel = self._relative(end)
                if rel is None:
                    continue
                if self._is_ignore_file(rel):
                    ignore_changed = True
                elif self._accepts(rel):
                    paths.append(rel)
        if not (paths or removed_dirs or ignore_changed):
            return
        now = time.monotonic()
        with self._lock:
            self._paths.update(paths)
            self._removed_dirs.update(removed_dirs)
            self._ignore_files_changed |= ignore_changed
            if self._first_event_at is None:
                self._first_event_at = now
            self._last_event_at = now
            self._lock.notify_all()

    def _overflowed(self) -> None:
        with self._lock:
            self._rescan = True
            now = time.monotonic()
            if self._first_event_at is None:
                self._first_event_at = now
            self._last_event_at = now
            self._lock.notify_all()

    def _flush_loop(self) -> None:
        while True:
            with self._lock:
                while not self._stopping:
                    if self._first_event_at is None:
                        self._lock.wait()
                        continue
                    now = time.monotonic()
                    due = min(self._last_event_at + self._quiet_s, self._first_event_at + self._max_delay_s)
                    if now >= due:
                        break
                    self._lock.wait(due - now)
                if self._stopping:
                    return
                batch = ChangeBatch(
                    paths=frozenset(self._paths),
                    removed_dirs=frozenset(self._removed_dirs),
                    ignore_files_changed=self._ignore_files_changed,
                    rescan=self._rescan,
                )
                self._paths.clear()
                self._removed_dirs.clear()
                self._ignore_files_changed = self._rescan = False
                self._first_event_at = None
            self.batches_sent += 1
            try:
                self._on_batch(batch)
            except Exception:
                self._log.exception("ragls watcher: batch consumer failed for %s", self._root_str)


class _OverflowListener(logging.Handler):
    """Turns watchdog's "Inotify queue overflowed" log record into a rescan request.

    watchdog rebuilds its watches after a kernel queue overflow but tells no event handler that
    events were lost; its log record is the only signal. The record does not say which root
    overflowed, so every active watcher rescans (overflows are rare; a spurious rescan is cheap
    compared with a silently stale index).
    """

    _instance: "_OverflowListener | None" = None
    _guard = threading.Lock()

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.watchers: set[WorkspaceWatcher] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            for watcher in list(self.watchers):
                watcher._overflowed()

    @classmethod
    def register(cls, watcher: WorkspaceWatcher) -> None:
        with cls._guard:
            if cls._instance is None:
                cls._instance = cls()
                logging.getLogger("watchdog.observers.inotify_c").addHandler(cls._instance)
                logging.getLogger("watchdog.observers.inotify").addHandler(cls._instance)
            cls._instance.watchers.add(watcher)

    @classmethod
    def unregister(cls, watcher: WorkspaceWatcher) -> None:
        with cls._guard:
            if cls._instance is not None:
                cls._instance.watchers.discard(watcher)
