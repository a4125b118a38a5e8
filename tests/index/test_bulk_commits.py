"""A long sync commits in batches that grow with the work, and a new index adds files without
deleting first, on a real Tantivy index on disk (issue 13: peak RSS of a cold index)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ragls.index import workspace_index
from ragls.index.workspace_index import WorkspaceIndex


def _write_pages(root: Path, count: int, filler_lines: int = 0) -> None:
    root.mkdir(parents=True, exist_ok=True)
    filler = "".join(f"Filler line {n} of the page.\n" for n in range(filler_lines))
    for n in range(count):
        (root / f"page{n:03d}.md").write_text(f"# Page {n:03d}\n\nThis page alone mentions zq{n:03d}marker.\n{filler}")


def _record_commits(monkeypatch) -> list[int]:
    """The number of files the manifest lists at each commit."""
    listed: list[int] = []
    commit = WorkspaceIndex._commit

    def recording(self, writer):
        listed.append(len(self._manifest))
        commit(self, writer)

    monkeypatch.setattr(WorkspaceIndex, "_commit", recording)
    return listed


@pytest.mark.parametrize("batch_by", ["files", "bytes"])
def test_a_cold_index_commits_in_batches_that_grow_with_the_work(monkeypatch, tmp_path, batch_by):
    monkeypatch.setenv("RAGLS_INDEX_WORKERS", "0")
    monkeypatch.setattr(workspace_index, "_BULK_COMMITS", 4)
    monkeypatch.setattr(workspace_index, "_COMMIT_EVERY_SECONDS", 1e9)
    if batch_by == "files":
        monkeypatch.setattr(workspace_index, "_COMMIT_MIN_FILES", 10)
        monkeypatch.setattr(workspace_index, "_COMMIT_MIN_BYTES", 10**12)
        _write_pages(tmp_path / "ws", 200)
    else:
        monkeypatch.setattr(workspace_index, "_COMMIT_MIN_FILES", 10**9)
        monkeypatch.setattr(workspace_index, "_COMMIT_MIN_BYTES", 1000)
        _write_pages(tmp_path / "ws", 200, filler_lines=20)  # ~650 bytes each: a quarter is ~33 KB
    listed = _record_commits(monkeypatch)
    index = WorkspaceIndex(tmp_path / "ws", index_path=tmp_path / "idx")
    report = index.sync()
    # A quarter of the work per batch (not the minimum, 10 files or 1 KB: 20+ commits), and no
    # batch commit when less than a quarter batch is left before the final commit.
    assert listed == [50, 100, 150, 200]
    assert report.files == report.added == 200 and report.chunks == 200
    for n in range(0, 200, 7):  # complete and searchable
        assert [hit.chunk.path for hit in index.search(f"zq{n:03d}marker").hits][:1] == [f"page{n:03d}.md"]
    index.close()


def test_a_small_sync_commits_once(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGLS_INDEX_WORKERS", "0")
    _write_pages(tmp_path / "ws", 30)
    listed = _record_commits(monkeypatch)
    index = WorkspaceIndex(tmp_path / "ws", index_path=tmp_path / "idx")
    assert index.sync().files == 30
    assert listed == [30]
    index.close()


class _CountingWriter:
    """Tantivy's writer, with the paths it was asked to delete documents of written down."""

    def __init__(self, writer) -> None:
        self._writer = writer
        self.deleted: list[str] = []

    def delete_documents_by_term(self, field: str, value: str):
        self.deleted.append(value)
        return self._writer.delete_documents_by_term(field, value)

    def __getattr__(self, name: str):
        return getattr(self._writer, name)


def _count_deletes(index: WorkspaceIndex) -> _CountingWriter:
    assert index.try_take_writer()
    index._writer = _CountingWriter(index._writer)
    return index._writer


def _rewrite(path: Path, text: str) -> None:
    before = path.stat()
    path.write_text(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 5_000_000_000))


def _found(index: WorkspaceIndex, word: str) -> list[str]:
    return [hit.chunk.path for hit in index.search(word).hits if word in hit.chunk.text]


def test_a_new_index_adds_files_without_deleting_and_still_replaces_a_changed_file(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGLS_INDEX_WORKERS", "0")
    root = tmp_path / "ws"
    _write_pages(root, 40)
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    writer = _count_deletes(index)
    assert index.sync().added == 40
    assert writer.deleted == []  # nothing to delete in a new index
    _rewrite(root / "page007.md", "# Page 7\n\nNow it mentions zqnewmarker instead.\n")
    report = index.sync()
    assert report.updated == 1 and writer.deleted == ["page007.md"]
    assert _found(index, "zqnewmarker") == ["page007.md"] and _found(index, "zq007marker") == []
    assert index.stats().chunks == 40
    index.close()


def test_a_reopened_index_deletes_before_adding_a_file_its_manifest_does_not_list(monkeypatch, tmp_path):
    # A kill between a commit and the manifest write leaves documents the manifest does not list:
    # re-adding that file must replace them, not add a second copy.
    monkeypatch.setenv("RAGLS_INDEX_WORKERS", "0")
    root = tmp_path / "ws"
    _write_pages(root, 20)
    first = WorkspaceIndex(root, index_path=tmp_path / "idx")
    chunks = first.sync().chunks
    first.close()
    manifest_path = tmp_path / "idx" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["files"]["page003.md"]
    manifest_path.write_text(json.dumps(manifest))
    again = WorkspaceIndex(root, index_path=tmp_path / "idx")
    writer = _count_deletes(again)
    report = again.sync()
    assert report.added == 1 and writer.deleted == ["page003.md"]
    assert again.stats().chunks == chunks  # replaced, not duplicated
    assert _found(again, "zq003marker") == ["page003.md"]
    again.close()


def test_closing_a_buffer_in_a_new_index_replaces_its_text_with_the_file_on_disk(monkeypatch, tmp_path):
    # A buffer's documents have no manifest entry: in a new index too, the file that replaces them
    # when the buffer closes must delete them first.
    monkeypatch.setenv("RAGLS_INDEX_WORKERS", "0")
    root = tmp_path / "ws"
    _write_pages(root, 5)
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    index.sync()
    index.set_overlay("draft.md", "# Draft\n\nThe unsaved buffer mentions zqbuffermarker.\n")
    assert _found(index, "zqbuffermarker") == ["draft.md"]
    (root / "draft.md").write_text("# Draft\n\nThe saved file mentions zqdiskmarker.\n")
    index.set_overlay("draft.md", None)
    assert _found(index, "zqdiskmarker") == ["draft.md"]
    assert _found(index, "zqbuffermarker") == []
    assert index.stats().chunks == 6
    index.close()


def test_closing_a_buffer_whose_file_does_not_exist_removes_its_text(monkeypatch, tmp_path):
    # A new file's buffer, closed without saving: nothing on disk replaces its documents, and no
    # manifest entry names them; they must go all the same.
    monkeypatch.setenv("RAGLS_INDEX_WORKERS", "0")
    root = tmp_path / "ws"
    _write_pages(root, 3)
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    index.sync()
    index.set_overlay("draft.md", "# Draft\n\nThe unsaved buffer mentions zqghostmarker.\n")
    assert _found(index, "zqghostmarker") == ["draft.md"]
    index.set_overlay("draft.md", None)
    assert _found(index, "zqghostmarker") == []
    assert index.stats().chunks == 3 and index.stats().files == 3
    index.close()


def test_a_buffer_open_when_the_process_died_leaves_no_text_behind(tmp_path: Path):
    # The editor had an unsaved new file and an edited existing one open when ragls was killed: the
    # next start must not keep serving either buffer's text.
    from ragls.index.workspace_index import WorkspaceIndex

    root = tmp_path / "ws"
    root.mkdir()
    (root / "kept.md").write_text("# Kept\n\nThe file on disk says zqdiskmarker.\n")
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    index.sync()
    index.set_overlay("never-saved.md", "# New\n\nAn unsaved buffer that mentions zqorphanmarker.\n")
    index.set_overlay("kept.md", "# Kept\n\nAn edit that was never saved mentions zqeditmarker.\n")
    assert index.search("zqorphanmarker").hits and index.search("zqeditmarker").hits
    index.close()  # (what a kill leaves on disk: the last commit and the manifest written after it)

    reopened = WorkspaceIndex(root, index_path=tmp_path / "idx")
    reopened.sync()
    assert not reopened.search("zqorphanmarker").hits
    assert not reopened.search("zqeditmarker").hits
    assert [h.chunk.path for h in reopened.search("zqdiskmarker").hits] == ["kept.md"]
    assert reopened.stats().files == 1
    reopened.close()


def test_an_open_buffer_of_a_file_that_does_not_exist_survives_a_sync(tmp_path: Path):
    from ragls.index.workspace_index import WorkspaceIndex

    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.md").write_text("# A\n\nSomething on disk.\n")
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    index.sync()
    index.set_overlay("draft.md", "# Draft\n\nThe unsaved draft mentions zqdraftmarker.\n")
    index.sync()  # (a rescan: the draft is not on disk, but its buffer is open)
    assert [h.chunk.path for h in index.search("zqdraftmarker").hits] == ["draft.md"]
    assert index.stats().files == 2
    index.set_overlay("draft.md", None)
    assert not index.search("zqdraftmarker").hits
    assert index.stats().files == 1
    index.close()
