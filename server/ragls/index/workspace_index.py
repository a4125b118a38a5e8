"""The index of one workspace root: the only writer of its Tantivy index.

Invariants:
- One ``WorkspaceIndex`` per index directory writes; its write methods serialise on ``_write_lock``
  (Tantivy's IndexWriter is not safe for concurrent use). Another process holding the writer lock
  makes this one a *follower*, with a clear message: it reads the owner's commits (its searcher and
  manifest follow the files on disk) and tries to take the writer at each write it is asked for
  (servers also call ``try_take_writer`` every ``TAKEOVER_RETRY_S``); once it has it (the owner
  exited), the next ``update_paths`` catches up with a full incremental ``sync``. Opening (where a
  damaged or outdated index is wiped and rebuilt) is serialised across processes by a lock file, so
  two processes never create or rebuild it at once.
- The manifest (path -> size, mtime, content hash, chunk count) is written *after* the Tantivy
  commit it describes, atomically. A kill at any point leaves the last commit readable; the next
  ``sync`` re-reads whatever the manifest does not vouch for, and re-indexing a path always deletes
  its old documents first, so catching up is idempotent.
- Searches run on a point-in-time searcher from any thread.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import re
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import tantivy

from ragls.core.chunking import chunk_document, language_for
from ragls.core.identifiers import NATIVE_SPEEDUPS
from ragls.core.types import SearchResult
from ragls.core.workspace import IgnoreRules, check_file, discover
from ragls.errors import IndexDirError
from ragls.index.retrieval import Retriever
from ragls.index.preparation import PreparedFile, prepare_batch, prepare_file, redact_file_text
from ragls.index.schema import SCHEMA_VERSION, build_schema, chunk_to_document, prepared_to_document
from ragls.settings import IndexSettings

log = logging.getLogger(__name__)

_MANIFEST = "manifest.json"
_VERSION_FILE = "ragls-index.json"  # ragls' marker: a folder without it is not ours to empty
# Everything ragls or Tantivy writes into an index folder: segment files (<uuid>.<ext>, deletes
# <uuid>.<opstamp>.del), Tantivy's meta and lock files, our manifest, marker and their temp files.
_OWN_FILE = re.compile(
    r"[0-9a-f]{32}(\.\d+)?\.(idx|pos|term|store|fast|fieldnorm|del)"
    r"|meta\.json|\.managed\.json|\.tantivy-[a-z]+\.lock"
    r"|(manifest|ragls-index|meta|\.managed)\.json\.tmp\d+"
)
# Skip reasons that concern only the file on disk, not an open buffer of it.
_BUFFER_OK_REASONS = {"missing", "empty", "unreadable", "too-large", "binary"}
# Commit at least this often during a long sync, so a kill loses little and readers see progress.
_COMMIT_EVERY_FILES = 2000
_COMMIT_EVERY_SECONDS = 10.0
# Below this much work, starting worker processes costs more than it saves.
_PARALLEL_MIN_FILES = 200
_PARALLEL_MIN_BYTES = 2_000_000
# Files handed to a worker at once: large enough that pickling and the pipe cost little per file.
_BATCH_BYTES = 256_000
_BATCH_FILES = 32
# Held (flock) while an index is opened, so two processes never create or rebuild it at once.
_OPENING_LOCK = ".ragls-opening.lock"
# How often a server whose index is written by another process tries to take the writer over.
TAKEOVER_RETRY_S = 1.0


@dataclass(frozen=True, slots=True)
class IndexProgress:
    done_files: int
    total_files: int
    message: str = ""


@dataclass(slots=True)
class IndexReport:
    files: int = 0  # files in the index after the run
    chunks: int = 0  # chunks in the index after the run
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    seconds: float = 0.0
    bytes_read: int = 0
    messages: list[str] = field(default_factory=list)
    redacted: int = 0  # secret values redacted in the index after the run (core.secrets)

    @property
    def mb_per_s(self) -> float:
        return self.bytes_read / 1e6 / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class IndexStats:
    files: int
    chunks: int
    last_update: float | None
    index_dir: Path
    skipped: Counter
    read_only: bool
    redacted: int = 0


def default_index_dir(root: Path) -> Path:
    """A per-workspace folder in the user's cache directory (never inside the workspace)."""
    import platformdirs

    resolved = root.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in resolved.name) or "root"
    return Path(platformdirs.user_cache_dir("ragls")) / "indexes" / f"{name}-{digest}"


def _is_access_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("lock", "permission", "denied", "read-only", "busy"))


class WorkspaceIndex:
    def __init__(
        self,
        root: str | Path,
        settings: IndexSettings = IndexSettings(),
        *,
        index_dir: Path | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise NotADirectoryError(f"workspace folder does not exist: {self.root}")
        self.settings = settings
        self.log = log or logging.getLogger(__name__)
        chosen = index_dir or (Path(settings.index_dir) if settings.index_dir else None)
        self.index_dir = (chosen or default_index_dir(self.root)).expanduser().resolve()
        self._write_lock = threading.RLock()
        self._writer: tantivy.IndexWriter | None = None
        self._read_only = False  # another process holds the writer: follow its commits
        self._caught_up = True  # False after taking over: the next update_paths syncs fully
        self._follow_lock = threading.Lock()  # the follower's refresh vs. taking over
        self._followed: tuple = ()  # (meta.json, manifest) stat keys a follower last loaded
        self._overlays: dict[str, str] = {}
        self._overlay_redactions: dict[str, int] = {}
        self._skipped: Counter = Counter()
        self._last_update: float | None = None
        self.messages: list[str] = []  # user-facing notes from opening (e.g. schema rebuild)
        self._rules = self._new_rules()
        self.messages.extend(self._rules.warnings)
        self._fresh = False
        with _opening_lock(self.index_dir, self._claim_index_dir):
            self._index = self._open_index()
        self._manifest: dict[str, dict] = self._load_manifest()
        self.retriever = Retriever(self._index)

    # --- opening -----------------------------------------------------------------------------

    def _open_index(self) -> tantivy.Index:
        version_file = self.index_dir / _VERSION_FILE
        found = None
        try:
            found = json.loads(version_file.read_text()).get("schema_version")
        except (OSError, ValueError, AttributeError):
            found = "unreadable"
        has_index = (self.index_dir / "meta.json").exists()
        if has_index and found != SCHEMA_VERSION:
            self._note(
                f"index at {self.index_dir} has schema version {found}, this ragls uses "
                f"{SCHEMA_VERSION}: rebuilding it"
            )
            self._wipe_index_dir()
            has_index = False
        self._fresh = not has_index  # a new index holds nothing, whatever a leftover manifest says
        schema = build_schema()
        try:
            index = tantivy.Index(schema, path=str(self.index_dir), reuse=has_index)
        except ValueError as exc:
            if _is_access_error(exc):
                # Not corruption: another process, permissions or a lock file we cannot take.
                # Rebuilding would destroy an index that may be fine (and in use): refuse instead.
                raise IndexDirError(f"cannot open the index at {self.index_dir} ({exc}); nothing was changed") from exc
            self._note(f"index at {self.index_dir} could not be opened ({exc}): rebuilding it")
            self._wipe_index_dir()
            self._fresh = True
            index = tantivy.Index(schema, path=str(self.index_dir), reuse=False)
        _atomic_write(version_file, json.dumps({"schema_version": SCHEMA_VERSION, "root": str(self.root)}))
        return index

    def _new_rules(self) -> IgnoreRules:
        # The index folder (and the server's parent of all index folders) is never indexed, even
        # when a user puts it inside the workspace: every commit would change it and start a loop.
        inside = []
        for folder in {self.index_dir, *( [Path(self.settings.index_dir).expanduser().resolve()] if self.settings.index_dir else [])}:
            try:
                inside.append(folder.relative_to(self.root).as_posix())
            except ValueError:
                pass
        return IgnoreRules(self.root, self.settings, excluded_dirs=tuple(r for r in inside if r not in ("", ".")))

    def _note(self, note: str) -> None:
        self.log.warning(note)
        self.messages.append(note)

    def _claim_index_dir(self) -> None:
        """Make sure ``index_dir`` is ragls' to write (and, on a rebuild, to empty).

        ragls only ever deletes what it can prove it created: a folder counts as an index folder
        only when it holds ragls' marker file, which is written into an empty folder *before*
        Tantivy creates anything there. A non-empty folder without the marker (a user's
        ``--index-dir ~/Documents``) is refused, untouched."""
        if self.index_dir.exists() and not self.index_dir.is_dir():
            raise IndexDirError(f"the index directory {self.index_dir} is a file, not a folder")
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            entries = [e.name for e in os.scandir(self.index_dir)]
        except OSError as exc:
            raise IndexDirError(f"cannot use {self.index_dir} as the index directory: {exc}") from exc
        if _VERSION_FILE in entries:
            return
        if entries:
            shown = ", ".join(sorted(entries)[:3]) + (", …" if len(entries) > 3 else "")
            raise IndexDirError(
                f"{self.index_dir} is not empty ({shown}) and is not a ragls index (no {_VERSION_FILE}); "
                "ragls never deletes files it did not create, so it will not use this folder: "
                "choose an empty or new folder for the index"
            )
        try:
            _atomic_write(self.index_dir / _VERSION_FILE, json.dumps({"schema_version": None, "root": str(self.root)}))
        except OSError as exc:
            raise IndexDirError(f"cannot write to the index directory {self.index_dir}: {exc}") from exc

    def _wipe_index_dir(self) -> None:
        """Delete the files ragls and Tantivy create in an index folder, and nothing else."""
        for entry in os.scandir(self.index_dir):
            if entry.is_file(follow_symlinks=False) and _OWN_FILE.fullmatch(entry.name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)

    def _read_manifest_file(self) -> dict | None:
        try:
            data = json.loads((self.index_dir / _MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("schema_version") == SCHEMA_VERSION else None

    def _load_manifest(self) -> dict[str, dict]:
        if self._fresh:
            # meta.json was lost or the index was rebuilt: a manifest left beside it vouches for
            # documents that are not there, and trusting it would keep those files out forever.
            return {}
        data = self._read_manifest_file()
        if data is None:
            return {}
        files = data.get("files", {})
        claimed = sum(entry.get("chunks", 0) for entry in files.values())
        held = self._index.searcher().num_docs
        if claimed > held:  # (or another process committed since this one opened the index: look again)
            self._index.reload()
            held = self._index.searcher().num_docs
        if claimed > held:  # the index lost documents (restored or damaged files): re-read everything
            self._note(f"index at {self.index_dir} holds {held} passages but its manifest lists {claimed}: re-reading every file")
            return {}
        self._last_update = data.get("last_update")
        return files

    def _save_manifest(self) -> None:
        payload = {"schema_version": SCHEMA_VERSION, "last_update": self._last_update, "files": self._manifest}
        _atomic_write(self.index_dir / _MANIFEST, json.dumps(payload, separators=(",", ":")))

    def _get_writer(self) -> tantivy.IndexWriter | None:
        if self._writer is None:
            # A follower tries again at every write (one failed lock attempt: cheap), so a
            # watcher batch after the owner exited is where it takes over.
            self.try_take_writer()
        return self._writer

    @property
    def read_only(self) -> bool:
        """Another process writes this index; this instance follows its commits."""
        return self._read_only

    def try_take_writer(self) -> bool:
        """Take Tantivy's writer lock unless another process holds it; True when this instance
        writes now. A follower that takes over starts from the owner's last commit and manifest,
        and its next ``update_paths`` is a full incremental ``sync`` (the owner may have died
        between a change and its commit); callers that want to catch up at once call ``sync``."""
        with self._write_lock:
            if self._writer is not None:
                return True
            try:
                # Two indexing threads sharing one 64 MB budget (32 MB each: memory as with one).
                # On 2 cores the run is CPU-bound either way, but each thread serialises its own
                # segment at a commit, so the last commit's tail, when the workers are done and
                # one core would idle, takes half as long: 3-5% faster cold indexing in
                # interleaved runs (stdlib and k8s-docs, docs/BENCHMARKS.md).
                writer = self._index.writer(heap_size=64_000_000, num_threads=2)
            except ValueError as exc:
                if not self._read_only:
                    self._read_only = True
                    self.log.debug("writer lock of %s: %s", self.index_dir, exc)
                    note = (
                        f"index at {self.index_dir} is being written by another ragls process (an editor's language "
                        "server or another `ragls mcp`): following its commits, read-only, until that process exits"
                    )
                    self.log.warning(note)
                    self.messages.append(note)
                return False
            if self._read_only:
                with self._follow_lock:
                    self._index.reload()
                    self._fresh = False  # the owner's commits are there, and its manifest vouches for them
                    self._manifest = self._load_manifest()
                    self._read_only, self._caught_up = False, False
                self.log.info("index at %s: the process that wrote it is gone; this one writes it now", self.index_dir)
            self._writer = writer
            return True

    def _follow_owner(self) -> None:
        """A follower's view of the owner's latest commit and manifest (two stats when unchanged).
        Tantivy reloads on commits too, but only within its own polling delay."""
        if not self._read_only:
            return
        with self._follow_lock:
            if not self._read_only:
                return
            seen = (_stat_key(self.index_dir / "meta.json"), _stat_key(self.index_dir / _MANIFEST))
            if seen == self._followed:
                return
            if not self._followed or seen[0] != self._followed[0]:
                self._index.reload()
            if not self._followed or seen[1] != self._followed[1]:
                # Read as written: it may describe a commit newer than the one just loaded.
                data = self._read_manifest_file()
                if data is not None:
                    self._manifest = data.get("files", {})
                    self._last_update = data.get("last_update")
            self._followed = seen

    # --- writing (one owner) -------------------------------------------------------------------

    def sync(
        self,
        progress: Callable[[IndexProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> IndexReport:
        """Bring the index up to date with the workspace on disk (incremental)."""
        started = time.perf_counter()
        with self._write_lock:
            self._rules = self._new_rules()
            discovery = discover(self.root, self.settings, self._rules)
            report = IndexReport(skipped=Counter(discovery.skipped))
            report.messages.extend(self._rules.warnings)
            writer = self._get_writer()
            if writer is None:
                report.messages.extend(self.messages)
                return self._finish(report, started)
            self._caught_up = True  # this sync is the catch-up a takeover asks for
            present = {f.path for f in discovery.files}
            total = len(discovery.files)
            for stale in [p for p in self._manifest if p not in present]:  # (buffers are never in it)
                writer.delete_documents_by_term("path", stale)
                del self._manifest[stale]
                report.removed += 1
            # Only files whose size or mtime differ from the manifest are read at all.
            todo = []
            for wfile in discovery.files:
                known = self._manifest.get(wfile.path)
                if wfile.path in self._overlays or (known and known["size"] == wfile.size and known["mtime_ns"] == wfile.mtime_ns):
                    report.unchanged += wfile.path not in self._overlays
                else:
                    todo.append(wfile)
            done_before = total - len(todo)
            if len(todo) >= _PARALLEL_MIN_FILES and not NATIVE_SPEEDUPS:
                self.log.info("ragls was installed without its C speed-ups (no C compiler then): indexing is slower (about 15%% on code)")
            # No count-based commit shortly before the final one: each commit waits for Tantivy to
            # write its segments, and the final commit follows within a few hundred files anyway.
            # (The time-based one stays: a slow sync still shows readers its progress.)
            last_by_count = len(todo) - _COMMIT_EVERY_FILES // 4
            last_commit, pending = time.monotonic(), 0
            with contextlib.closing(self._prepare_all(todo)) as prepared_files:  # closing stops the workers
                for done, (wfile, prepared) in enumerate(prepared_files, done_before + 1):
                    if cancel is not None and cancel.is_set():
                        report.messages.append("indexing cancelled; the index holds what was committed")
                        break
                    pending += self._apply(writer, wfile, prepared, report)
                    if progress is not None and (done % 50 == 0 or done == total):
                        progress(IndexProgress(done, total, f"{done}/{total} files"))
                    by_count = pending >= _COMMIT_EVERY_FILES and done - done_before < last_by_count
                    if by_count or (pending and time.monotonic() - last_commit > _COMMIT_EVERY_SECONDS):
                        self._commit(writer)
                        last_commit, pending = time.monotonic(), 0
            if progress is not None and not todo:
                progress(IndexProgress(total, total, f"{total}/{total} files"))
            self._commit(writer)
            self._skipped = report.skipped
            return self._finish(report, started)

    def update_paths(self, paths: Iterable[str | Path]) -> IndexReport:
        """Re-read the given files from disk (watcher batches); missing or ignored ones are removed,
        and so is everything under a given folder that no longer exists."""
        started = time.perf_counter()
        with self._write_lock:
            report = IndexReport()
            writer = self._get_writer()
            if writer is None:
                return self._finish(report, started)
            if not self._caught_up:  # just took over from another process: what did it miss?
                return self.sync()
            folders: set[str] = set()  # paths that may be folders deleted or moved away
            for raw in paths:
                rel = self._relative(raw)
                if rel is None or rel in self._overlays:
                    continue
                checked = check_file(self.root, rel, self.settings, self._rules)
                if checked in ("missing", "directory") and rel not in self._manifest:
                    folders.add(rel)
                if isinstance(checked, str):
                    if rel in self._manifest:
                        writer.delete_documents_by_term("path", rel)
                        del self._manifest[rel]
                        report.removed += 1
                    else:
                        report.skipped[checked] += 1
                    continue
                known_hash = (self._manifest.get(rel) or {}).get("hash")
                self._apply(writer, checked, prepare_file(rel, str(checked.abs_path), known_hash), report)
            if folders:  # drop everything indexed under them that is gone too: one manifest pass
                for gone in [p for p in self._manifest if _under_any(p, folders) and not (self.root / p).exists()]:
                    writer.delete_documents_by_term("path", gone)
                    del self._manifest[gone]
                    report.removed += 1
            self._commit(writer)
            return self._finish(report, started)

    def set_overlay(self, rel_path: str, text: str | None) -> None:
        """Index an unsaved editor buffer for ``rel_path`` instead of the disk file (None: back to disk)."""
        with self._write_lock:
            rel = self._relative(rel_path)
            if rel is None:
                return
            if text is None:
                if self._overlays.pop(rel, None) is not None:
                    self.update_paths([rel])
                return
            if len(text.encode("utf-8", "surrogatepass")) > self.settings.max_file_size_kb * 1024:
                # the same limit as files: a buffer that grew past it goes back to the disk file
                if self._overlays.pop(rel, None) is not None:
                    self.update_paths([rel])
                return
            if not self._accepts_buffer(rel):
                return
            writer = self._get_writer()
            if writer is None:
                return
            self._overlays[rel] = text
            # The index no longer mirrors the disk file: forget its manifest entry so that closing
            # the buffer re-reads the file.
            self._manifest.pop(rel, None)
            writer.delete_documents_by_term("path", rel)
            text, self._overlay_redactions[rel] = redact_file_text(rel, text)
            chunks = chunk_document(rel, text)
            for chunk in chunks:
                writer.add_document(chunk_to_document(chunk))
            self._commit(writer)
            self._last_update = time.time()

    def _accepts_buffer(self, rel: str) -> bool:
        # A buffer is indexed when its file would be, or when only its disk state stands in the way
        # (a new unsaved file, an empty one). Never for ignored or secret files.
        if language_for(rel) is None:
            return False
        checked = check_file(self.root, rel, self.settings, self._rules)
        return not isinstance(checked, str) or checked in _BUFFER_OK_REASONS

    def rebuild(
        self,
        progress: Callable[[IndexProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> IndexReport:
        """Drop everything and index from scratch."""
        with self._write_lock:
            writer = self._get_writer()
            if writer is None:
                return self.sync(progress, cancel)
            writer.delete_all_documents()
            self._manifest.clear()
            self._commit(writer)
            overlays, self._overlays = self._overlays, {}
            report = self.sync(progress, cancel)
            for rel, text in overlays.items():
                self.set_overlay(rel, text)
            return report

    def _prepare_all(self, files: list):
        """Yield (file, prepared) for every file, in no particular order.

        This thread and worker processes share the work: batches go to the workers, and whenever
        no batch result is ready this thread prepares the next file itself instead of waiting (so
        nothing waits while the workers start). Whether workers are worth starting at all depends
        on the machine and the kind of files (``_worker_count``)."""
        jobs = [(f.path, str(f.abs_path), (self._manifest.get(f.path) or {}).get("hash")) for f in files]
        workers = _worker_count(files)
        if workers == 0:
            for wfile, job in zip(files, jobs):
                yield wfile, prepare_file(*job)
            return
        in_flight: collections.deque = collections.deque()  # (first, end, future), oldest first
        taken = 0  # files[:taken] are prepared here or handed to a worker
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        # spawn, not fork: the server has threads (pygls, Tantivy) that fork would copy mid-flight
        try:
            # (A cancel is the caller's to notice between items: it then closes this generator,
            # and the ``finally`` below stops the workers.)
            while taken < len(files) or in_flight:
                while taken < len(files) and len(in_flight) < 2 * workers:  # keep every worker busy
                    end = _batch_end(files, taken)
                    in_flight.append((taken, end, pool.submit(prepare_batch, jobs[taken:end])))
                    taken = end
                if in_flight and (in_flight[0][2].done() or taken >= len(files)):
                    first, end, future = in_flight[0]
                    prepared = future.result()  # raises BrokenProcessPool with the batch still listed
                    in_flight.popleft()
                    yield from zip(files[first:end], prepared)
                else:  # nothing ready: prepare a file here rather than wait
                    yield files[taken], prepare_file(*jobs[taken])
                    taken += 1
        except (BrokenProcessPool, OSError) as exc:
            # Workers could not start or died (an embedding host without a re-importable __main__,
            # process limits): prepare what they held, and the rest, in this thread.
            self.log.warning("indexing workers unavailable (%s); continuing in-process", exc)
            for first, end, _future in in_flight:
                for wfile, job in zip(files[first:end], jobs[first:end]):
                    yield wfile, prepare_file(*job)
            in_flight.clear()
            for wfile, job in zip(files[taken:], jobs[taken:]):
                yield wfile, prepare_file(*job)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _apply(self, writer: tantivy.IndexWriter, wfile, prepared: "PreparedFile", report: IndexReport) -> int:
        """Write one prepared file into the index; returns 1 when the index was touched."""
        rel = wfile.path
        known = self._manifest.get(rel)
        if prepared.error is not None:  # deleted or made unreadable mid-run
            report.skipped["unreadable"] += 1
            self.log.info("skipping %s: %s", rel, prepared.error)
            if known:
                writer.delete_documents_by_term("path", rel)
                del self._manifest[rel]
                report.removed += 1
                return 1
            return 0
        report.bytes_read += prepared.size
        if prepared.chunks is None:  # same content, only touched
            known.update(size=wfile.size, mtime_ns=wfile.mtime_ns)
            report.unchanged += 1
            return 0
        # Always delete first: the index may hold documents the manifest does not know about
        # (a kill after a commit but before the manifest write, a closed editor buffer).
        writer.delete_documents_by_term("path", rel)
        if known:
            report.updated += 1
        else:
            report.added += 1
        for chunk in prepared.chunks:
            writer.add_document(prepared_to_document(rel, chunk))
        self._manifest[rel] = {"size": wfile.size, "mtime_ns": wfile.mtime_ns, "hash": prepared.digest, "chunks": len(prepared.chunks)}
        if prepared.redacted:
            self._manifest[rel]["redacted"] = prepared.redacted
        return 1

    def _commit(self, writer: tantivy.IndexWriter) -> None:
        writer.commit()
        self._last_update = time.time()
        self._save_manifest()
        self._index.reload()  # see our own writes before the next search

    def _finish(self, report: IndexReport, started: float) -> IndexReport:
        report.seconds = time.perf_counter() - started
        report.files = self._file_count()
        report.chunks = self._index.searcher().num_docs
        report.redacted = self._redacted_count()
        return report

    def _redacted_count(self) -> int:
        from_files = sum(entry.get("redacted", 0) for entry in list(self._manifest.values()))
        return from_files + sum(self._overlay_redactions.get(rel, 0) for rel in list(self._overlays))

    def _file_count(self) -> int:
        # An open buffer's path leaves the manifest (set_overlay), so the two never overlap.
        return len(self._manifest) + len(self._overlays)

    def _relative(self, raw: str | Path) -> str | None:
        path = Path(raw)
        if path.is_absolute():
            try:
                path = path.resolve().relative_to(self.root) if path.exists() else path.relative_to(self.root)
            except ValueError:
                try:
                    path = path.relative_to(self.root)
                except ValueError:
                    return None
        rel = path.as_posix()
        if rel in ("", ".") or rel.startswith("../"):
            return None
        return rel

    # --- reading (any thread) -------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 5, max_per_file: int = 2, explain: bool = False) -> SearchResult:
        self._follow_owner()
        return self.retriever.search(query, limit=limit, max_per_file=max_per_file, explain=explain, root=str(self.root))

    def accepts(self, rel_path: str) -> bool:
        return self.skip_reason(rel_path) is None

    def skip_reason(self, rel_path: str) -> str | None:
        """Why the index leaves ``rel_path`` out (``core.workspace`` reasons: "secret", "ignored",
        "symlink-outside", "missing", …), or None when it indexes the file."""
        rel = self._relative(rel_path)
        if rel is None:
            return "outside"
        checked = check_file(self.root, rel, self.settings, self._rules)
        return checked if isinstance(checked, str) else None

    def ignore_file_changed(self, rel_path: str) -> bool:
        return IgnoreRules.is_ignore_file(self._relative(rel_path) or "")

    def is_indexed(self, rel_path: str) -> bool:
        rel = self._relative(rel_path)
        return rel is not None and (rel in self._manifest or rel in self._overlays)

    def stats(self) -> IndexStats:
        self._follow_owner()
        return IndexStats(
            files=self._file_count(),
            chunks=self._index.searcher().num_docs,
            last_update=self._last_update,
            index_dir=self.index_dir,
            skipped=Counter(self._skipped),
            read_only=self._read_only,
            redacted=self._redacted_count(),
        )

    def close(self) -> None:
        with self._write_lock:
            if self._writer is not None:
                try:
                    self._writer.wait_merging_threads()
                except Exception:  # the writer is consumed either way; nothing to lose
                    pass
                self._writer = None


def _worker_count(files: list) -> int:
    """Worker processes for preparing ``files`` besides the calling thread (0: none).

    The calling process turns prepared chunks into documents, prepares files itself whenever no
    worker result is ready, and runs Tantivy's two indexing threads. On two cores a worker is
    started only for code-heavy work (chunked at definitions, ≈ 40 ns of Python per byte with the C
    speed-ups, ≈ 55 without): there it takes half the preparing off the process that also serves
    the editor, for the same wall time as preparing in-process. For prose (less Python per byte than
    Tantivy's ≈ 60 ns) its start-up and pickling only slow the run down (docs/BENCHMARKS.md).
    ``RAGLS_INDEX_WORKERS`` overrides the choice (benchmarks)."""
    if len(files) < _PARALLEL_MIN_FILES:
        return 0
    total = sum(f.size for f in files)
    if total < _PARALLEL_MIN_BYTES:
        return 0
    env = os.environ.get("RAGLS_INDEX_WORKERS", "").strip()
    if env.isdigit():
        return int(env)
    cpus = _available_cpus()
    if cpus <= 2:
        code = sum(f.size for f in files if (language_for(f.path) or ("",))[0] == "code")
        return 1 if cpus == 2 and code * 2 >= total else 0
    return min(cpus - 1, 4)


def _under_any(path: str, folders: set[str]) -> bool:
    """Is ``path`` inside one of ``folders`` (workspace-relative)?"""
    end = path.find("/")
    while end != -1:
        if path[:end] in folders:
            return True
        end = path.find("/", end + 1)
    return False


def _available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, e.g. under taskset or
    a container's cpuset), not all the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _batch_end(files: list, first: int) -> int:
    end, size = first, 0
    while end < len(files) and (end == first or (size < _BATCH_BYTES and end - first < _BATCH_FILES)):
        size += files[end].size
        end += 1
    return end


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    """Changes with every atomic rewrite of ``path`` (a new inode), even two within one mtime tick."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@contextlib.contextmanager
def _opening_lock(index_dir: Path, claim: Callable[[], None]):
    """``claim()`` the folder (ragls' marker first: the lock file must not make a new folder look
    like someone else's), then hold an exclusive lock on it while the index is opened."""
    claim()
    try:
        import fcntl
    except ImportError:  # (not POSIX: Tantivy's own lock is all there is)
        yield
        return
    try:
        handle = open(index_dir / _OPENING_LOCK, "a")
    except OSError as exc:
        raise IndexDirError(f"cannot write to the index directory {index_dir}: {exc}") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # (released by the OS too, should this process die here)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
