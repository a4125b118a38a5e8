"""``WorkspaceIndex`` owner and follower on one real Tantivy index folder, without any server:
what ``ragls mcp`` and ``ragls --stdio`` rely on when they share a workspace. Two instances in one
process contend for Tantivy's writer lock exactly as two processes do (the end-to-end tests run
real processes); here each step can be checked directly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ragls.index.workspace_index import WorkspaceIndex


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "retry.md").write_text("# Retries\n\n## Retry policy\n\nThe retry policy sends a failed request again.\n")
    return root


def _paths(index: WorkspaceIndex, query: str) -> list[str]:
    return [hit.chunk.path for hit in index.search(query).hits]


def test_a_second_instance_follows_the_owner_and_sees_each_commit(workspace, tmp_path):
    index_dir = tmp_path / "index"
    owner = WorkspaceIndex(workspace, index_path=index_dir)
    owner.sync()
    follower = WorkspaceIndex(workspace, index_path=index_dir)
    try:
        report = follower.sync()  # asks for the writer, gets none: follows instead
        assert follower.read_only and not owner.read_only
        assert any("following its commits" in m for m in report.messages)
        assert follower.try_take_writer() is False
        assert follower.stats().files == 1 and _paths(follower, "retry policy") == ["docs/retry.md"]

        (workspace / "docs" / "guide.md").write_text("# Guide\n\nThe flux capacitor needs 1.21 gigawatts.\n")
        assert follower.update_paths(["docs/guide.md"]).added == 0  # a follower never writes
        assert _paths(follower, "flux capacitor gigawatts") == []
        owner.update_paths(["docs/guide.md"])
        # no reload call, no wait: the next search stats meta.json and reloads the new commit
        assert _paths(follower, "flux capacitor gigawatts") == ["docs/guide.md"]
        assert follower.stats().files == 2 and follower.stats().chunks == owner.stats().chunks
        assert follower.is_indexed("docs/guide.md")
    finally:
        follower.close()
        owner.close()


def test_the_follower_takes_over_when_the_owner_closes_and_catches_up(workspace, tmp_path):
    index_dir = tmp_path / "index"
    owner = WorkspaceIndex(workspace, index_path=index_dir)
    owner.sync()
    follower = WorkspaceIndex(workspace, index_path=index_dir)
    try:
        follower.sync()
        assert follower.read_only
        owner.close()
        # changed while nobody was writing: the owner is gone, the follower not yet the writer
        (workspace / "docs" / "retry.md").write_text("# Retries\n\nThe backoff doubles after each attempt.\n")
        (workspace / "docs" / "later.md").write_text("# Later\n\nThe hoverboard floats over water.\n")
        # the first write it is asked for (a watcher batch naming one file) takes over and syncs all
        report = follower.update_paths(["docs/later.md"])
        assert not follower.read_only
        assert (report.added, report.updated, report.files) == (1, 1, 2)
        assert _paths(follower, "hoverboard floats") == ["docs/later.md"]
        assert _paths(follower, "backoff doubles") == ["docs/retry.md"]
        texts = [hit.chunk.text for hit in follower.search("retries retry policy backoff").hits]
        assert texts and all("policy" not in text for text in texts)  # the old text is gone
    finally:
        follower.close()
        owner.close()
    # and the index it leaves is whole: a new owner re-reads nothing
    reopened = WorkspaceIndex(workspace, index_path=index_dir)
    try:
        again = reopened.sync()
        assert (again.added, again.updated, again.removed, again.unchanged, again.files) == (0, 0, 0, 2, 2)
    finally:
        reopened.close()


def test_a_follower_takes_the_writer_when_the_owning_process_is_killed(workspace, tmp_path):
    index_dir = tmp_path / "index"
    # the owner is another process, killed without any clean-up (its lock goes with it)
    script = textwrap.dedent(f"""
        import sys, time
        from ragls.index.workspace_index import WorkspaceIndex
        index = WorkspaceIndex({str(workspace)!r}, index_path=__import__("pathlib").Path({str(index_dir)!r}))
        index.sync()
        print("ready", flush=True)
        time.sleep(600)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "ready"
        follower = WorkspaceIndex(workspace, index_path=index_dir)
        try:
            follower.sync()
            assert follower.read_only and follower.try_take_writer() is False
            owner.kill()
            owner.wait(10)
            assert follower.try_take_writer() is True and not follower.read_only
            (workspace / "docs" / "later.md").write_text("# Later\n\nThe hoverboard floats over water.\n")
            assert follower.update_paths(["docs/later.md"]).files == 2
            assert _paths(follower, "hoverboard floats") == ["docs/later.md"]
        finally:
            follower.close()
    finally:
        owner.kill()
        owner.wait(10)


def test_opening_waits_while_another_process_opens_or_rebuilds(workspace, tmp_path):
    import fcntl
    import threading

    index_dir = tmp_path / "index"
    WorkspaceIndex(workspace, index_path=index_dir).close()
    lock = index_dir / ".ragls-opening.lock"
    assert lock.exists()
    opened: list[WorkspaceIndex] = []
    with open(lock, "a") as held:  # what another process holds while it creates or rebuilds
        fcntl.flock(held, fcntl.LOCK_EX)
        opener = threading.Thread(target=lambda: opened.append(WorkspaceIndex(workspace, index_path=index_dir)))
        opener.start()
        opener.join(0.5)
        assert opener.is_alive() and not opened  # it waits: it never opens a half-made index
        fcntl.flock(held, fcntl.LOCK_UN)
    opener.join(10)
    assert len(opened) == 1
    try:
        assert opened[0].sync().added == 1  # the lock file is never taken for a user's file
    finally:
        opened[0].close()
