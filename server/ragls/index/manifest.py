"""The manifest of one index folder: what the last commit holds, file by file.

``manifest.json`` maps each indexed path to its size, mtime, content hash, chunk count (and the
secret values redacted in it), with the schema version and the time of the last update. It lets a
``sync`` read only the files whose size or mtime changed.

Rules:
- **Written after the Tantivy commit it describes**, atomically (a temporary file, then a
  rename): a kill at any point leaves the last commit and a manifest no newer than it.
- **A manifest is distrusted, never half-believed**: one of another schema version, one beside a
  new or rebuilt index (whatever it says, the index holds nothing), and one that claims more
  chunks than the index holds (restored or damaged index files) are all dropped, so every file is
  read again. A manifest that claims *less* is fine: re-indexing a path always deletes its
  documents first, so catching up is idempotent.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ragls.index.schema import SCHEMA_VERSION

MANIFEST_FILE = "manifest.json"


@dataclass(slots=True)
class Manifest:
    files: dict[str, dict] = field(default_factory=dict)  # path -> {size, mtime_ns, hash, chunks[, redacted]}
    last_update: float | None = None  # time.time() of the commit it describes

    def claimed_chunks(self) -> int:
        return sum(entry.get("chunks", 0) for entry in self.files.values())


def read_manifest(index_path: Path) -> Manifest | None:
    """The manifest as written (None: missing, unreadable or of another schema version)."""
    try:
        data = json.loads((index_path / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        return None
    return Manifest(data.get("files", {}), data.get("last_update"))


def load_trusted(index_path: Path, *, fresh: bool, held_chunks: Callable[[], int], reload: Callable[[], None]) -> tuple[Manifest | None, str | None]:
    """The manifest when the index may be trusted to hold what it claims, else None (see the
    module's rules), and a note for the user when it was dropped because the index lost documents.

    ``fresh``: the index was just created or rebuilt. ``held_chunks()``: the documents the index
    holds; ``reload()``: look at the index's latest commit (another process may have committed
    since this one opened it)."""
    if fresh:
        # meta.json was lost or the index was rebuilt: a manifest left beside it vouches for
        # documents that are not there, and trusting it would keep those files out forever.
        return None, None
    manifest = read_manifest(index_path)
    if manifest is None:
        return None, None
    claimed, held = manifest.claimed_chunks(), held_chunks()
    if claimed > held:  # (or another process committed since this one opened the index: look again)
        reload()
        held = held_chunks()
    if claimed > held:  # the index lost documents (restored or damaged files): re-read everything
        return None, f"index at {index_path} holds {held} passages but its manifest lists {claimed}: re-reading every file"
    return manifest, None


def save_manifest(index_path: Path, manifest: Manifest) -> None:
    """Write the manifest (call after the commit it describes)."""
    payload = {"schema_version": SCHEMA_VERSION, "last_update": manifest.last_update, "files": manifest.files}
    atomic_write(index_path / MANIFEST_FILE, json.dumps(payload, separators=(",", ":")))


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename: a reader sees the old file or the new one."""
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def stat_key(path: Path) -> tuple[int, int, int] | None:
    """Changes with every atomic rewrite of ``path`` (a new inode), even two within one mtime tick."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)
