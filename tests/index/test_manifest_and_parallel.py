"""index/manifest.py (what a manifest is trusted for, how it is written), index/parallel.py, and the
named values of preparation and ranking."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

from ragls.core.workspace import discover
from ragls.index.manifest import MANIFEST_FILE, Manifest, atomic_write, load_trusted, read_manifest, save_manifest, stat_key
from ragls.index.parallel import prepare_all
from ragls.index.preparation import PreparedChunk
from ragls.index.retrieval import RankedChunk
from ragls.index.schema import SCHEMA_VERSION
from ragls.index.workspace_index import WorkspaceIndex, default_index_path
from ragls.settings import IndexSettings

FILES = {"a.md": {"size": 10, "mtime_ns": 1, "hash": "x", "chunks": 2}, "b.py": {"size": 5, "mtime_ns": 2, "hash": "y", "chunks": 3}}


def test_a_saved_manifest_reads_back_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    save_manifest(tmp_path, Manifest(dict(FILES), last_update=12.5))
    assert read_manifest(tmp_path) == Manifest(FILES, 12.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST_FILE]
    assert json.loads((tmp_path / MANIFEST_FILE).read_text())["schema_version"] == SCHEMA_VERSION


def test_a_manifest_of_another_schema_or_unreadable_is_not_read(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_FILE).write_text(json.dumps({"schema_version": SCHEMA_VERSION - 1, "files": FILES}))
    assert read_manifest(tmp_path) is None
    (tmp_path / MANIFEST_FILE).write_text("{not json")
    assert read_manifest(tmp_path) is None
    assert read_manifest(tmp_path / "missing") is None


def test_trust_rules(tmp_path: Path) -> None:
    save_manifest(tmp_path, Manifest(dict(FILES), last_update=3.0))
    reloads: list[int] = []
    held = [5]

    def trusted(fresh: bool = False):
        return load_trusted(tmp_path, fresh=fresh, held_chunks=lambda: held[0], reload=lambda: reloads.append(1))

    assert trusted() == (Manifest(FILES, 3.0), None)  # claims 5, holds 5
    assert trusted(fresh=True) == (None, None)  # a new index holds nothing, whatever it says
    assert reloads == []
    held[0] = 4  # claims more than the index holds: looked at again, then dropped with a note
    manifest, note = trusted()
    assert manifest is None and reloads == [1] and "holds 4 passages but its manifest lists 5" in note

    def committed_meanwhile():  # another process committed since this one opened the index
        reloads.append(1)
        held[0] = 9

    assert load_trusted(tmp_path, fresh=False, held_chunks=lambda: held[0], reload=committed_meanwhile)[0] == Manifest(FILES, 3.0)


def test_atomic_write_replaces_and_changes_the_stat_key(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    assert stat_key(target) is None
    atomic_write(target, "one")
    first = stat_key(target)
    atomic_write(target, "two")
    assert target.read_text() == "two" and stat_key(target) != first
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_the_index_folder_without_a_path_lies_in_the_index_parent(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.md").write_text("# A\n\nSome text about apples.\n")
    parent = tmp_path / "indexes"
    index = WorkspaceIndex(root, IndexSettings(index_dir=str(parent)))
    try:
        assert index.index_path == default_index_path(root, parent) and index.index_path.parent == parent.resolve()
        index.sync()
        stats = index.stats()
        assert stats.index_path == index.index_path and stats.role == index.role == "owner" and not stats.read_only
    finally:
        index.close()


def test_prepared_chunks_and_rankings_are_named(tmp_path: Path, workspace: Path) -> None:
    discovery = discover(workspace, IndexSettings())
    prepared = dict(prepare_all(discovery.files, lambda _path: None, logging.getLogger("test")))
    assert sorted(f.path for f in prepared) == sorted(f.path for f in discovery.files)
    chunk = next(p for p in prepared.values() if p.chunks).chunks[0]
    assert isinstance(chunk, PreparedChunk) and chunk.start_line >= 1 and chunk.body
    assert pickle.loads(pickle.dumps(chunk)) == chunk  # crosses to worker processes
    # A known hash: the file is hashed, not chunked again.
    known = {f.path: p.digest for f, p in prepared.items()}
    again = list(prepare_all(discovery.files, known.get, logging.getLogger("test")))
    assert all(p.chunks is None for _, p in again)

    index = WorkspaceIndex(workspace, index_path=tmp_path / "idx")
    try:
        index.sync()
        ranking = index.retriever.rank("how are retries configured")
        assert ranking.hits and all(isinstance(h, RankedChunk) for h in ranking.hits)
        assert ranking.hits[0].chunk.path == "docs/retry.md" and ranking.hits[0].score > 0 and "fused" in ranking.hits[0].components
    finally:
        index.close()
