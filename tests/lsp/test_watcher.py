"""The watcher on a real directory with real inotify (and the polling fallback)."""

import errno
import os
import queue
import shutil
import time

import pytest

from ragls.index.watcher import ChangeBatch, WorkspaceWatcher


class Batches:
    def __init__(self):
        self.queue: "queue.Queue[ChangeBatch]" = queue.Queue()

    def __call__(self, batch):
        self.queue.put(batch)

    def collect(self, until, timeout=5.0):
        """Merge batches until ``until(paths, removed_dirs, flags)`` holds."""
        paths, dirs, flags = set(), set(), set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                batch = self.queue.get(timeout=0.05)
            except queue.Empty:
                if until(paths, dirs, flags):
                    return paths, dirs, flags
                continue
            paths |= batch.paths
            dirs |= batch.removed_dirs
            if batch.ignore_files_changed:
                flags.add("ignore")
            if batch.rescan:
                flags.add("rescan")
        raise AssertionError(f"timed out; got paths={paths} dirs={dirs} flags={flags}")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("# A\n")
    (root / "node_modules").mkdir()
    (root / ".git").mkdir()
    return root


def accepts(rel):
    return not rel.startswith("node_modules/") and rel.endswith((".md", ".py"))


@pytest.fixture
def watched(tree):
    batches = Batches()
    watcher = WorkspaceWatcher(tree, batches, accepts=accepts)
    assert watcher.start() == "inotify"
    yield tree, watcher, batches
    watcher.stop()


def test_create_modify_delete_and_filters(watched):
    root, watcher, batches = watched
    (root / "docs" / "new.md").write_text("hello\n")
    (root / "docs" / "a.md").write_text("# A changed\n")
    (root / "node_modules" / "x.md").write_text("ignored\n")
    (root / ".git" / "index").write_text("ignored\n")
    (root / "docs" / "image.png").write_bytes(b"\x89PNG")
    paths, _, _ = batches.collect(lambda p, d, f: {"docs/new.md", "docs/a.md"} <= p)
    assert paths == {"docs/new.md", "docs/a.md"}
    (root / "docs" / "new.md").unlink()
    paths, _, _ = batches.collect(lambda p, d, f: "docs/new.md" in p)
    assert paths == {"docs/new.md"}


def test_atomic_save_reports_the_target(watched):
    root, watcher, batches = watched
    tmp = root / "docs" / ".a.md.swp.md"
    tmp.write_text("# A saved atomically\n")
    os.replace(tmp, root / "docs" / "a.md")
    paths, _, _ = batches.collect(lambda p, d, f: "docs/a.md" in p)
    assert "docs/a.md" in paths  # the temp name may appear too; re-reading it finds it gone


def test_burst_is_coalesced(watched):
    root, watcher, batches = watched
    for i in range(2000):
        (root / "docs" / f"f{i % 200}.md").write_text(f"v{i}\n")
    paths, _, _ = batches.collect(lambda p, d, f: len(p) == 200)
    assert paths == {f"docs/f{i}.md" for i in range(200)}
    assert watcher.batches_sent < watcher.events_seen / 20  # thousands of events, a handful of batches


def test_directory_moves(watched, tmp_path):
    root, watcher, batches = watched
    (root / "docs" / "sub").mkdir()
    (root / "docs" / "sub" / "b.md").write_text("b\n")
    batches.collect(lambda p, d, f: "docs/sub/b.md" in p)
    os.rename(root / "docs" / "sub", root / "docs" / "moved")  # within the tree: file-level moves
    paths, _, _ = batches.collect(lambda p, d, f: {"docs/sub/b.md", "docs/moved/b.md"} <= p)
    shutil.move(str(root / "docs" / "moved"), str(tmp_path / "outside"))  # out of the tree
    _, dirs, _ = batches.collect(lambda p, d, f: "docs/moved" in d)
    assert dirs == {"docs/moved"}


def test_ignore_file_change_asks_for_full_scan(watched):
    root, watcher, batches = watched
    (root / ".gitignore").write_text("docs/\n")
    _, _, flags = batches.collect(lambda p, d, f: "ignore" in f)
    assert "ignore" in flags


def test_falls_back_to_polling_when_watch_limit_reached(tree):
    class ExhaustedInotify:
        def schedule(self, *args, **kwargs):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def stop(self):
            pass

    batches = Batches()
    watcher = WorkspaceWatcher(tree, batches, accepts=accepts, observer_factory=ExhaustedInotify, polling_interval_s=0.2)
    try:
        assert watcher.start() == "polling"
        assert "limit" in watcher.fallback_reason
        (tree / "docs" / "polled.md").write_text("x\n")
        paths, _, _ = batches.collect(lambda p, d, f: "docs/polled.md" in p)
        assert "docs/polled.md" in paths
    finally:
        watcher.stop()


def test_other_os_errors_are_not_swallowed(tree):
    class Broken:
        def schedule(self, *args, **kwargs):
            raise OSError(errno.EACCES, "denied")

        def stop(self):
            pass

    with pytest.raises(OSError):
        WorkspaceWatcher(tree, Batches(), observer_factory=Broken).start()


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError):
        WorkspaceWatcher(tmp_path / "nope", Batches()).start()


def test_git_info_exclude_change_asks_for_full_scan(watched):
    # .git is noise to the watcher, except the one ignore file that lives there
    root, watcher, batches = watched
    (root / ".git" / "info").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / ".git" / "info" / "exclude").write_text("docs/\n")
    paths, _, flags = batches.collect(lambda p, d, f: "ignore" in f)
    assert "ignore" in flags and not any(p.startswith(".git/") for p in paths)


def test_polling_never_lists_folders_the_index_leaves_out(tree):
    from ragls.index.watcher import _polling_listdir

    (tree / "node_modules" / "pkg").mkdir()
    (tree / "node_modules" / "pkg" / "index.md").write_text("x\n")
    (tree / ".git" / "objects").mkdir()
    (tree / ".git" / "info").mkdir()
    (tree / "docs" / "__pycache__").mkdir()
    listed_root = {e.name for e in _polling_listdir(str(tree))}
    assert listed_root == {"docs", ".git"}  # node_modules is not walked
    assert {e.name for e in _polling_listdir(str(tree / ".git"))} == {"info"}  # only .git/info/exclude matters
    assert {e.name for e in _polling_listdir(str(tree / "docs"))} == {"a.md"}
    (tree / "node_modules.md").write_text("a file, not a pruned folder\n")
    assert "node_modules.md" in {e.name for e in _polling_listdir(str(tree))}


def test_polling_sees_ignore_files_under_git_info_and_skips_pruned_churn(tree):
    batches = Batches()
    watcher = WorkspaceWatcher(tree, batches, accepts=lambda rel: rel.endswith(".md"), force_polling=True, polling_interval_s=0.1)
    try:
        assert watcher.start() == "polling"
        (tree / "node_modules" / "churn.md").write_text("never reported\n")
        (tree / ".git" / "info").mkdir()
        (tree / ".git" / "info" / "exclude").write_text("docs/\n")
        (tree / "docs" / "seen.md").write_text("x\n")
        paths, _, flags = batches.collect(lambda p, d, f: "docs/seen.md" in p and "ignore" in f)
        assert "node_modules/churn.md" not in paths
    finally:
        watcher.stop()


def test_full_polling_pass_is_paced_by_its_cost(tree):
    from ragls.index.watcher import POLLING_CPU_SHARE, PacedPollingObserver

    for n in range(300):
        (tree / "docs" / f"f{n}.md").write_text("x\n")
    batches = Batches()
    watcher = WorkspaceWatcher(tree, batches, force_polling=True, polling_interval_s=0.05)
    try:
        watcher.start()
        observer = watcher._observer
        assert isinstance(observer, PacedPollingObserver)
        (emitter,) = observer.emitters
        assert observer.pass_cpu_s > 0  # the first full pass was timed
        emitter.last_pass_cpu_s = 2.0  # a pass over a huge tree
        assert emitter.full_pass_wait_s() == pytest.approx(2.0 * (1 / POLLING_CPU_SHARE - 1))
    finally:
        watcher.stop()


def test_polling_folder_pass_sees_creates_deletes_and_folders_between_full_passes(tree):
    (tree / "docs" / "old.md").write_text("x\n")
    (tree / "docs" / "gone").mkdir()
    (tree / "docs" / "gone" / "inner.md").write_text("x\n")
    batches = Batches()
    watcher = WorkspaceWatcher(tree, batches, accepts=accepts, force_polling=True, polling_interval_s=0.05)
    try:
        watcher.start()
        (emitter,) = watcher._observer.emitters
        emitter._next_full = float("inf")  # folder passes only: what they alone notice
        (tree / "docs" / "new.md").write_text("x\n")
        (tree / "docs" / "old.md").unlink()
        shutil.rmtree(tree / "docs" / "gone")
        (tree / "docs" / "sub" / "deep").mkdir(parents=True)
        (tree / "docs" / "sub" / "deep" / "nested.md").write_text("x\n")
        want = {"docs/new.md", "docs/old.md", "docs/sub/deep/nested.md"}
        paths, dirs, _ = batches.collect(lambda p, d, f: want <= p and "docs/gone" in d)
        assert want <= paths and "docs/gone" in dirs
        # An edit in place keeps the folder's mtime: only a full pass sees it.
        (tree / "docs" / "new.md").write_text("longer content\n")
        time.sleep(0.3)
        assert batches.queue.empty()
        emitter._next_full = 0.0
        paths, _, _ = batches.collect(lambda p, d, f: "docs/new.md" in p)
        assert "docs/new.md" in paths
    finally:
        watcher.stop()
