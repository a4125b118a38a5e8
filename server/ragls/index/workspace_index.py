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
  ``sync`` re-reads whatever the manifest does not vouch for, and re-indexing a path deletes its
  old documents first (in a new index written by this instance alone, only where it holds some:
  ``_all_listed``), so catching up is idempotent.
- Searches run on a point-in-time searcher from any thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import tantivy

from ragls.core.chunking import chunk_document, language_for
from ragls.core.identifiers import NATIVE_SPEEDUPS
from ragls.core.types import Hit, SearchResult
from ragls.core.workspace import IgnoreRules, check_file, discover
from ragls.errors import IndexDirError
from ragls.index.manifest import MANIFEST_FILE, Manifest, atomic_write, load_trusted, read_manifest, save_manifest, stat_key
from ragls.index.parallel import PARALLEL_MIN_FILES, prepare_all
from ragls.index.preparation import PreparedFile, prepare_file, redact_file_text
from ragls.index.retrieval import Retriever
from ragls.index.schema import SCHEMA_VERSION, build_schema, chunk_to_document, prepared_to_document
from ragls.settings import IndexSettings

log = logging.getLogger(__name__)

_VERSION_FILE = "ragls-index.json"  # ragls' marker: a folder without it is not ours to empty
# Everything ragls or Tantivy writes into an index folder: segment files (<uuid>.<ext>, deletes
# <uuid>.<opstamp>.del), Tantivy's meta and lock files, our manifest, marker and their temp files.
_OWN_FILE = re.compile(
    r"[0-9a-f]{32}(\.\d+)?\.(idx|pos|term|store|fast|fieldnorm|del)"
    r"|meta\.json|\.managed\.json|\.tantivy-[a-z]+\.lock"
    r"|(manifest|ragls-index|meta|\.managed)\.json\.tmp\d+"
)
# The manifest entry of a path indexed from an editor buffer: no file has this size, so the disk
# file is read again once the buffer is closed or the process restarts.
_BUFFER_ENTRY = {"size": -1, "mtime_ns": -1, "buffer": True}
# Skip reasons that concern only the file on disk, not an open buffer of it.
_BUFFER_OK_REASONS = {"missing", "empty", "unreadable", "too-large", "binary"}
# A long sync commits in batches of files and of bytes read, whichever fills first (and at least
# every _COMMIT_EVERY_SECONDS), so a kill loses little and readers see progress. The batches grow
# with the work, so that a cold index makes about _BULK_COMMITS commits of two segments each (one
# per indexing thread). Why: Tantivy's merge policy (LogMergePolicy; tantivy-py offers no other)
# merges 8 segments of similar size, and every page of a segment being merged is mapped and
# resident, counted in the process's RSS. From 64 similar segments on, it merges 8 merged ones:
# most of the index at once. A fixed 2,000-file batch made 86 segments of the 1 GB benchmark tree
# and a final merge of 75% of its index, 600 MB of mapped pages; with ~48 segments the largest
# merge is 8 of them, a sixth of the index (docs/BENCHMARKS.md, "Scale"). The time-based commit is
# rare enough (30 s) not to cut those batches short unless reading is slower than ~1 MB/s. Past
# ~1.5 GB of text the writer's heap (≈ 30 MB of text per thread) splits batches into more
# segments, and from ≈ 3.5 GB on the large merges come back.
_BULK_COMMITS = 24
_COMMIT_MIN_FILES = 2000
_COMMIT_MIN_BYTES = 32_000_000
_COMMIT_EVERY_SECONDS = 30.0
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
    index_path: Path  # the index folder itself
    skipped: Counter
    read_only: bool  # a follower: another process owns (writes) this index; this one reads its commits
    redacted: int = 0

    @property
    def role(self) -> str:
        """``"owner"`` (this instance writes the index) or ``"follower"`` (it reads another
        process's commits and takes over when that process exits)."""
        return "follower" if self.read_only else "owner"


def default_index_path(root: Path, index_parent: str | Path | None = None) -> Path:
    """The index folder of the workspace ``root``: a per-workspace folder (name and a digest of the
    path) in ``index_parent``, by default in the user's cache directory (never inside the
    workspace). One index per workspace: one writer per index."""
    import platformdirs

    resolved = root.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in resolved.name) or "root"
    parent = Path(index_parent).expanduser().resolve() if index_parent else Path(platformdirs.user_cache_dir("ragls")) / "indexes"
    return parent / f"{name}-{digest}"


# The name lsp/workspaces.py imports; it returns the default parent's folder, as it always did.
default_index_dir = default_index_path


def _is_access_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("lock", "permission", "denied", "read-only", "busy"))


class WorkspaceIndex:
    """The index of one workspace.

    Two names, two meanings: ``index_path`` is the index folder itself (Tantivy's files, the
    manifest, ragls' marker); ``settings.index_dir`` (the ``index.indexDir`` setting, ``ragls mcp
    --index-dir``) is an *index parent*, the folder that holds one index per workspace. Without an
    ``index_path`` the index is ``default_index_path(root, settings.index_dir)``, as the language
    server and ``ragls mcp`` place it.
    """

    def __init__(
        self,
        root: str | Path,
        settings: IndexSettings = IndexSettings(),
        *,
        index_path: Path | None = None,
        log: logging.Logger | None = None,
        index_dir: Path | None = None,
    ) -> None:
        """``index_dir``: the old name of ``index_path`` (the index folder itself), still taken
        from callers outside ``index/`` (lsp/workspaces.py, training/cli.py)."""
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise NotADirectoryError(f"workspace folder does not exist: {self.root}")
        self.settings = settings
        self.log = log or logging.getLogger(__name__)
        chosen = index_path or index_dir
        self.index_path = (Path(chosen) if chosen else default_index_path(self.root, settings.index_dir)).expanduser().resolve()
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
        with _opening_lock(self.index_path, self._claim_index_path):
            self._index = self._open_index()
        self._manifest: dict[str, dict] = self._load_manifest()
        # True while every document in the index belongs to a path in the manifest (editor
        # buffers included: ``set_overlay``): a new index, written by this instance alone. Then a
        # path not in it has no documents to delete before it is added, which spares a cold index
        # one delete per file (Tantivy applies each to every segment at every commit). An index
        # written before, by this process or another, may hold documents its manifest does not
        # know (a kill between a commit and the manifest write).
        self._all_listed = self._fresh
        self.retriever = Retriever(self._index)

    # --- opening -----------------------------------------------------------------------------

    def _open_index(self) -> tantivy.Index:
        version_file = self.index_path / _VERSION_FILE
        found = None
        try:
            found = json.loads(version_file.read_text()).get("schema_version")
        except (OSError, ValueError, AttributeError):
            found = "unreadable"
        has_index = (self.index_path / "meta.json").exists()
        if has_index and found != SCHEMA_VERSION:
            self._note(
                f"index at {self.index_path} has schema version {found}, this ragls uses "
                f"{SCHEMA_VERSION}: rebuilding it"
            )
            self._wipe_index_path()
            has_index = False
        self._fresh = not has_index  # a new index holds nothing, whatever a leftover manifest says
        schema = build_schema()
        try:
            index = tantivy.Index(schema, path=str(self.index_path), reuse=has_index)
        except ValueError as exc:
            if _is_access_error(exc):
                # Not corruption: another process, permissions or a lock file we cannot take.
                # Rebuilding would destroy an index that may be fine (and in use): refuse instead.
                raise IndexDirError(f"cannot open the index at {self.index_path} ({exc}); nothing was changed") from exc
            self._note(f"index at {self.index_path} could not be opened ({exc}): rebuilding it")
            self._wipe_index_path()
            self._fresh = True
            index = tantivy.Index(schema, path=str(self.index_path), reuse=False)
        atomic_write(version_file, json.dumps({"schema_version": SCHEMA_VERSION, "root": str(self.root)}))
        return index

    def _new_rules(self) -> IgnoreRules:
        # The index folder (and the parent of all index folders) is never indexed, even when a user
        # puts it inside the workspace: every commit would change it and start a loop.
        inside = []
        index_parent = self.settings.index_dir
        for folder in {self.index_path, *([Path(index_parent).expanduser().resolve()] if index_parent else [])}:
            try:
                inside.append(folder.relative_to(self.root).as_posix())
            except ValueError:
                pass
        return IgnoreRules(self.root, self.settings, excluded_dirs=tuple(r for r in inside if r not in ("", ".")))

    def _note(self, note: str) -> None:
        self.log.warning(note)
        self.messages.append(note)

    def _claim_index_path(self) -> None:
        """Make sure ``index_path`` is ragls' to write (and, on a rebuild, to empty).

        ragls only ever deletes what it can prove it created: a folder counts as an index folder
        only when it holds ragls' marker file, which is written into an empty folder *before*
        Tantivy creates anything there. A non-empty folder without the marker (a user's
        ``--index-dir ~/Documents``) is refused, untouched."""
        if self.index_path.exists() and not self.index_path.is_dir():
            raise IndexDirError(f"the index directory {self.index_path} is a file, not a folder")
        try:
            self.index_path.mkdir(parents=True, exist_ok=True)
            entries = [e.name for e in os.scandir(self.index_path)]
        except OSError as exc:
            raise IndexDirError(f"cannot use {self.index_path} as the index directory: {exc}") from exc
        if _VERSION_FILE in entries:
            return
        # Another ragls process may be writing its marker this very moment (atomic_write's
        # "<marker>.tmp<pid>" before the rename): that file is ragls' own, not the user's.
        entries = [name for name in entries if not name.startswith(_VERSION_FILE + ".tmp")]
        if entries:
            shown = ", ".join(sorted(entries)[:3]) + (", …" if len(entries) > 3 else "")
            raise IndexDirError(
                f"{self.index_path} is not empty ({shown}) and is not a ragls index (no {_VERSION_FILE}); "
                "ragls never deletes files it did not create, so it will not use this folder: "
                "choose an empty or new folder for the index"
            )
        try:
            atomic_write(self.index_path / _VERSION_FILE, json.dumps({"schema_version": None, "root": str(self.root)}))
        except OSError as exc:
            raise IndexDirError(f"cannot write to the index directory {self.index_path}: {exc}") from exc

    def _wipe_index_path(self) -> None:
        """Delete the files ragls and Tantivy create in an index folder, and nothing else."""
        for entry in os.scandir(self.index_path):
            if entry.is_file(follow_symlinks=False) and _OWN_FILE.fullmatch(entry.name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)

    def _load_manifest(self) -> dict[str, dict]:
        manifest, note = load_trusted(
            self.index_path,
            fresh=self._fresh,
            held_chunks=lambda: self._index.searcher().num_docs,
            reload=self._index.reload,
        )
        if note:
            self._note(note)
        if manifest is None:
            return {}
        self._last_update = manifest.last_update
        return manifest.files

    def _save_manifest(self) -> None:
        save_manifest(self.index_path, Manifest(self._manifest, self._last_update))

    def _get_writer(self) -> tantivy.IndexWriter | None:
        if self._writer is None:
            # A follower tries again at every write (one failed lock attempt: cheap), so a
            # watcher batch after the owner exited is where it takes over.
            self.try_take_writer()
        return self._writer

    @property
    def read_only(self) -> bool:
        """True while this instance is a *follower*: another process holds Tantivy's writer lock
        (it owns the index: watches, indexes, commits), and this one only reads its commits —
        every search and ``stats`` first reloads what the owner changed — and tries to take the
        writer at each write it is asked for. Not a permission: a follower becomes the owner
        once the other process exits (``try_take_writer``)."""
        return self._read_only

    @property
    def role(self) -> str:
        """``"owner"`` or ``"follower"`` (see ``read_only``)."""
        return "follower" if self._read_only else "owner"

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
                    self.log.debug("writer lock of %s: %s", self.index_path, exc)
                    note = (
                        f"index at {self.index_path} is being written by another ragls process (an editor's language "
                        "server or another `ragls mcp`): following its commits, read-only, until that process exits"
                    )
                    self.log.warning(note)
                    self.messages.append(note)
                return False
            if self._read_only:
                with self._follow_lock:
                    self._index.reload()
                    self._fresh = False  # the owner's commits are there, and its manifest vouches for them
                    self._all_listed = False  # (but the owner may have died before writing it)
                    self._manifest = self._load_manifest()
                    self._read_only, self._caught_up = False, False
                self.log.info("index at %s: the process that wrote it is gone; this one writes it now", self.index_path)
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
            seen = (stat_key(self.index_path / "meta.json"), stat_key(self.index_path / MANIFEST_FILE))
            if seen == self._followed:
                return
            if not self._followed or seen[0] != self._followed[0]:
                self._index.reload()
            if not self._followed or seen[1] != self._followed[1]:
                # Read as written: it may describe a commit newer than the one just loaded.
                written = read_manifest(self.index_path)
                if written is not None:
                    self._manifest = written.files
                    self._last_update = written.last_update
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
            for stale in [p for p in self._manifest if p not in present and p not in self._overlays]:
                writer.delete_documents_by_term("path", stale)
                del self._manifest[stale]
                report.removed += 1
            del present
            # Only files whose size or mtime differ from the manifest are read at all.
            todo = []
            for wfile in discovery.files:
                known = self._manifest.get(wfile.path)
                if wfile.path in self._overlays or (known and known["size"] == wfile.size and known["mtime_ns"] == wfile.mtime_ns):
                    report.unchanged += wfile.path not in self._overlays
                else:
                    todo.append(wfile)
            done_before = total - len(todo)
            del discovery  # (its skip counts are in the report; the files still to read are in todo)
            if len(todo) >= PARALLEL_MIN_FILES and not NATIVE_SPEEDUPS:
                self.log.info("ragls was installed without its C speed-ups (no C compiler then): indexing is slower (about 15%% on code)")
            left_files, left_bytes = len(todo), sum(f.size for f in todo)
            batch_files = max(_COMMIT_MIN_FILES, left_files // _BULK_COMMITS)
            batch_bytes = max(_COMMIT_MIN_BYTES, left_bytes // _BULK_COMMITS)
            last_commit, pending, pending_bytes = time.monotonic(), 0, 0
            with contextlib.closing(self._prepare_all(todo)) as prepared_files:  # closing stops the workers
                for done, (wfile, prepared) in enumerate(prepared_files, done_before + 1):
                    if cancel is not None and cancel.is_set():
                        report.messages.append("indexing cancelled; the index holds what was committed")
                        break
                    if self._apply(writer, wfile, prepared, report):
                        pending += 1
                        pending_bytes += wfile.size
                    left_files, left_bytes = left_files - 1, left_bytes - wfile.size
                    if progress is not None and (done % 50 == 0 or done == total):
                        progress(IndexProgress(done, total, f"{done}/{total} files"))
                    # No batch commit shortly before the final one: each commit waits for Tantivy to
                    # write its segments, and the final commit follows soon anyway. (The time-based
                    # one stays: a slow sync still shows readers its progress.)
                    by_files = pending >= batch_files and left_files > batch_files // 4
                    by_bytes = pending_bytes >= batch_bytes and left_bytes > batch_bytes // 4
                    if by_files or by_bytes or (pending and time.monotonic() - last_commit > _COMMIT_EVERY_SECONDS):
                        self._commit(writer)
                        last_commit, pending, pending_bytes = time.monotonic(), 0, 0
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
                for gone in [p for p in self._manifest if _under_any(p, folders) and p not in self._overlays and not (self.root / p).exists()]:
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
            writer.delete_documents_by_term("path", rel)
            text, self._overlay_redactions[rel] = redact_file_text(rel, text)
            chunks = chunk_document(rel, text)
            for chunk in chunks:
                writer.add_document(chunk_to_document(chunk))
            # The index no longer mirrors the disk file. The manifest still lists the path, with a
            # size no file has: closing the buffer, or the next start if this process dies with the
            # buffer open, re-reads the file, or removes the buffer's text if there is no file.
            self._manifest[rel] = {**_BUFFER_ENTRY, "chunks": len(chunks)}
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
            self._all_listed = True  # it holds nothing now
            overlays, self._overlays = self._overlays, {}
            report = self.sync(progress, cancel)
            for rel, text in overlays.items():
                self.set_overlay(rel, text)
            return report

    def _prepare_all(self, files: list):
        """(file, prepared) for every file, prepared here and in worker processes (``index.parallel``)."""
        return prepare_all(files, lambda path: (self._manifest.get(path) or {}).get("hash"), self.log)

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
        # Delete first: the index may hold documents the manifest does not know about (a kill
        # after a commit but before the manifest write, a closed editor buffer), except in an
        # index whose every document is listed (``_all_listed``).
        if known or not self._all_listed:
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
        # (an open buffer's path is in the manifest too: set_overlay)
        return len(self._manifest) + sum(rel not in self._manifest for rel in list(self._overlays))

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

    def page_hits(self, rel_path: str) -> tuple[Hit, ...]:
        """Every indexed chunk of ``rel_path`` (its overlay, when the editor has one), in file order."""
        self._follow_owner()
        return self.retriever.page_hits(rel_path, root=str(self.root))

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
            index_path=self.index_path,
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


def _under_any(path: str, folders: set[str]) -> bool:
    """Is ``path`` inside one of ``folders`` (workspace-relative)?"""
    end = path.find("/")
    while end != -1:
        if path[:end] in folders:
            return True
        end = path.find("/", end + 1)
    return False


@contextlib.contextmanager
def _opening_lock(index_path: Path, claim: Callable[[], None]):
    """``claim()`` the folder (ragls' marker first: the lock file must not make a new folder look
    like someone else's), then hold an exclusive lock on it while the index is opened."""
    claim()
    try:
        import fcntl
    except ImportError:  # (not POSIX: Tantivy's own lock is all there is)
        yield
        return
    try:
        handle = open(index_path / _OPENING_LOCK, "a")
    except OSError as exc:
        raise IndexDirError(f"cannot write to the index directory {index_path}: {exc}") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # (released by the OS too, should this process die here)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
