"""Issue 13, items 1-3: the index directory and the workspace's file names can never cost the user
data or lock them out of their index. Real Tantivy indexes on disk, the real ``ragls`` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ragls.errors import IndexDirError
from ragls.index.workspace_index import WorkspaceIndex


def ragls(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ragls", *args], capture_output=True, text=True, timeout=120)


# --- item 1: --index-dir deletes only what ragls created ----------------------------------------

def test_a_users_folder_with_a_meta_json_is_refused_and_left_untouched(workspace, tmp_path):
    user = tmp_path / "u"
    (user / "photos").mkdir(parents=True)
    (user / "photos" / "cat.jpg").write_bytes(b"\xff\xd8 a cat")
    (user / "meta.json").write_text("{}")
    (user / "thesis.tex").write_text("x")
    before = sorted(str(p.relative_to(user)) for p in user.rglob("*"))

    done = ragls("index", str(workspace), "--index-dir", str(user))

    assert done.returncode == 2, done.stdout + done.stderr
    assert "not a ragls index" in done.stderr and "Traceback" not in done.stderr
    assert sorted(str(p.relative_to(user)) for p in user.rglob("*")) == before
    assert (user / "thesis.tex").read_text() == "x" and (user / "meta.json").read_text() == "{}"


def test_a_rebuild_of_a_ragls_index_removes_only_its_own_files(workspace, index_dir):
    WorkspaceIndex(workspace, index_path=index_dir).sync()
    # A user's file that ended up in the index folder, and a sub-folder: neither is ragls'.
    (index_dir / "notes.txt").write_text("mine")
    (index_dir / "keep").mkdir()
    (index_dir / "keep" / "a.txt").write_text("mine too")
    marker = json.loads((index_dir / "ragls-index.json").read_text())
    (index_dir / "ragls-index.json").write_text(json.dumps({**marker, "schema_version": -1}))  # forces a rebuild

    index = WorkspaceIndex(workspace, index_path=index_dir)
    assert any("rebuilding" in m for m in index.messages)
    assert index.sync().files == 3
    assert (index_dir / "notes.txt").read_text() == "mine"
    assert (index_dir / "keep" / "a.txt").read_text() == "mine too"


def test_a_lock_failure_is_an_error_not_a_rebuild(workspace, index_dir):
    WorkspaceIndex(workspace, index_path=index_dir).sync()
    segments = sorted(p.name for p in index_dir.iterdir() if p.suffix == ".store")
    # A lock file that cannot be taken (here: a folder in its place) used to send the index down
    # the "corrupt: rebuild" path, deleting a perfectly good index.
    (index_dir / ".tantivy-meta.lock").unlink()
    (index_dir / ".tantivy-meta.lock").mkdir()
    with pytest.raises(IndexDirError, match="nothing was changed"):
        WorkspaceIndex(workspace, index_path=index_dir)
    assert sorted(p.name for p in index_dir.iterdir() if p.suffix == ".store") == segments


def test_an_empty_or_new_folder_is_taken_and_marked(workspace, tmp_path):
    for target in (tmp_path / "new" / "deep", tmp_path / "empty"):
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.name == "empty":
            target.mkdir()
        assert WorkspaceIndex(workspace, index_path=target).sync().files == 3
        assert (target / "ragls-index.json").exists()


def test_a_folder_where_another_ragls_is_writing_its_marker_is_still_taken(workspace, tmp_path):
    # Two servers started at once on a new index: the first one's marker is half written
    # (atomic_write's temporary file, before its rename) when the second one looks at the folder.
    target = tmp_path / "racing"
    target.mkdir()
    (target / "ragls-index.json.tmp4242").write_text("{")
    assert WorkspaceIndex(workspace, index_path=target).sync().files == 3
    assert (target / "ragls-index.json").exists()
    # (a user's file of another name is still refused)
    other = tmp_path / "users"
    other.mkdir()
    (other / "ragls-index.json.bak").write_text("mine")
    with pytest.raises(IndexDirError):
        WorkspaceIndex(workspace, index_path=other)


def test_an_index_dir_that_is_a_file_is_a_clear_error(workspace, tmp_path):
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    done = ragls("index", str(workspace), "--index-dir", str(target))
    assert done.returncode == 2 and "is a file" in done.stderr and "Traceback" not in done.stderr
    assert target.read_text() == "not a folder"


# --- item 2: a file name that is not UTF-8 is one skipped file ---------------------------------

@pytest.mark.skipif(sys.platform != "linux", reason="needs a filesystem that stores raw bytes in names")
def test_a_non_utf8_file_name_is_one_skipped_file_not_a_dead_workspace(workspace, tmp_path):
    (workspace / os.fsdecode(b"bad\xffname.md")).write_text("# Bad\n\nunreachable words here\n")
    (workspace / os.fsdecode(b"dir\xfe")).mkdir()
    (workspace / os.fsdecode(b"dir\xfe") / "inner.md").write_text("# Inner\n")
    index_dir = str(tmp_path / "idx")

    done = ragls("index", str(workspace), "--index-dir", index_dir, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["files"] == 3 and report["skipped"]["undecodable-name"] == 2
    found = ragls("search", str(workspace), "how are retries configured", "--index-dir", index_dir, "--json")
    assert found.returncode == 0 and json.loads(found.stdout)["hits"], found.stderr

    # the watcher's path: update_paths with the bad name skips it too
    index = WorkspaceIndex(workspace, index_path=Path(index_dir))
    report = index.update_paths([workspace / os.fsdecode(b"bad\xffname.md"), workspace / "README.md"])
    assert report.skipped["undecodable-name"] == 1
    assert index.search("gardening tools").hits


# --- item 3: a lost meta.json never leaves an empty index behind a kept manifest -----------------

def test_a_lost_meta_json_with_a_kept_manifest_reindexes_everything(workspace, tmp_path):
    index_dir = str(tmp_path / "idx")
    assert ragls("index", str(workspace), "--index-dir", index_dir).returncode == 0
    os.unlink(Path(index_dir) / "meta.json")

    found = ragls("search", str(workspace), "how are retries configured", "--index-dir", index_dir, "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["hits"][0]["path"] == "docs/retry.md"


def test_a_manifest_claiming_more_than_the_index_holds_is_not_trusted(workspace, index_dir):
    WorkspaceIndex(workspace, index_path=index_dir).sync()
    manifest = json.loads((index_dir / "manifest.json").read_text())
    # a manifest from a bigger index (restored from a backup, copied over): vouches for a file
    # the index does not hold
    manifest["files"]["docs/extra.md"] = {"size": 1, "mtime_ns": 1, "hash": "0", "chunks": 40}
    (index_dir / "manifest.json").write_text(json.dumps(manifest))
    (workspace / "docs" / "extra.md").write_text("# Extra\n\nThe zebra crossing rules.\n")
    os.utime(workspace / "docs" / "extra.md", ns=(1, 1))

    index = WorkspaceIndex(workspace, index_path=index_dir)
    assert any("re-reading every file" in m for m in index.messages)
    index.sync()
    assert index.search("zebra crossing").hits[0].chunk.path == "docs/extra.md"


# --- smaller items: bad patterns, an index inside its own workspace ------------------------------

@pytest.mark.parametrize("where", ["exclude-setting", "gitignore"])
def test_an_invalid_pattern_is_left_out_with_a_warning_and_indexing_goes_on(workspace, index_dir, where):
    import dataclasses

    from ragls.settings import IndexSettings

    settings = IndexSettings()
    if where == "exclude-setting":
        settings = dataclasses.replace(settings, exclude=("!", "docs/"))
    else:
        (workspace / ".gitignore").write_text("!\ndocs/\n")
    index = WorkspaceIndex(workspace, settings, index_path=index_dir)
    report = index.sync()
    messages = index.messages + report.messages
    assert any("invalid pattern '!'" in m for m in messages), messages
    assert report.files == 2  # README.md and src/client.py: the valid pattern docs/ still applies
    assert not index.is_indexed("docs/retry.md")


def test_an_invalid_exclude_pattern_on_the_command_line_is_a_warning_not_a_traceback(workspace, tmp_path):
    done = ragls("index", str(workspace), "--index-dir", str(tmp_path / "idx"), "--exclude", "!", "--json")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "invalid pattern" in done.stderr
    assert json.loads(done.stdout)["files"] == 3


def test_an_index_dir_inside_the_workspace_is_never_indexed(workspace):
    index_dir = workspace / "idx"
    index = WorkspaceIndex(workspace, index_path=index_dir)
    first = index.sync()
    again = index.sync()  # the first commit changed manifest.json and meta.json inside the workspace
    assert first.files == 3 and again.files == 3
    assert (again.added, again.updated, again.removed) == (0, 0, 0)
    assert not any(index.is_indexed(f"idx/{name}") for name in ("manifest.json", "meta.json", "ragls-index.json"))
