"""Integration tests on a real Tantivy index on disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from ragls.index.schema import SCHEMA_VERSION
from ragls.index.workspace_index import WorkspaceIndex


def paths_of(result) -> list[str]:
    return [h.chunk.path for h in result.hits]


def test_first_sync_indexes_and_search_cites_exact_lines(workspace, index_dir):
    index = WorkspaceIndex(workspace, index_path=index_dir)
    report = index.sync()
    assert report.files == 3 and report.added == 3 and report.chunks >= 3
    result = index.search("how are retries configured")
    assert result.covered
    top = result.hits[0]
    assert top.chunk.path == "docs/retry.md"
    lines = (workspace / "docs/retry.md").read_text().split("\n")
    # The chunk's text is exactly the file's lines start..end.
    assert "\n".join(lines[top.chunk.start_line - 1 : top.chunk.end_line]) == top.chunk.text
    assert 7 in top.matched_lines  # the line that says how retries are configured
    index.close()


def test_identifier_subwords_and_exact_symbols(workspace, index_dir):
    index = WorkspaceIndex(workspace, index_path=index_dir)
    index.sync()
    for query in ("http response", "HTTPResponse", "httpResponse", "http_response"):
        hit = index.search(query).hits[0]
        assert hit.chunk.path == "src/client.py", query
        assert "HTTPResponse" in hit.chunk.symbols, query
    hit = index.search("send_request", explain=True).hits[0]
    assert "send_request" in hit.chunk.symbols
    assert hit.components["symbol"] > 0


def test_unchanged_resync_reads_nothing_and_changes_are_picked_up(workspace, index_dir):
    index = WorkspaceIndex(workspace, index_path=index_dir)
    index.sync()
    again = index.sync()
    assert again.added == again.updated == again.removed == 0
    assert again.unchanged == 3 and again.bytes_read == 0

    doc = workspace / "docs" / "retry.md"
    doc.write_text(doc.read_text() + "\n## Jitter\n\nA random jitter of up to one second is added to every backoff.\n")
    (workspace / "README.md").unlink()
    (workspace / "docs" / "new.md").write_text("# Tracing\n\nSpans are exported with the zipkin exporter.\n")
    report = index.sync()
    assert (report.added, report.updated, report.removed) == (1, 1, 1)
    assert paths_of(index.search("random jitter"))[0] == "docs/retry.md"
    assert paths_of(index.search("zipkin exporter"))[0] == "docs/new.md"
    assert "README.md" not in paths_of(index.search("gardening tools demo project"))
    index.close()

    # A new process (a new WorkspaceIndex) trusts the manifest: nothing re-read.
    reopened = WorkspaceIndex(workspace, index_path=index_dir)
    assert reopened.sync().bytes_read == 0
    reopened.close()


def test_update_paths_and_overlay(workspace, index_dir):
    index = WorkspaceIndex(workspace, index_path=index_dir)
    index.sync()
    extra = workspace / "docs" / "cache.md"
    extra.write_text("# Caching\n\nResponses are cached for five minutes by the memoizer.\n")
    assert index.update_paths([extra]).added == 1
    assert paths_of(index.search("memoizer"))[0] == "docs/cache.md"
    extra.unlink()
    assert index.update_paths([str(extra)]).removed == 1
    assert "docs/cache.md" not in paths_of(index.search("memoizer"))

    # An unsaved buffer wins over the disk file, with the buffer's line numbers.
    index.set_overlay("docs/retry.md", "# Retries\n\n\n\nUnsaved text about the quokka scheduler.\n")
    hit = index.search("quokka scheduler").hits[0]
    assert (hit.chunk.path, 5 in hit.matched_lines) == ("docs/retry.md", True)
    index.sync()  # a full sync must not replace the open buffer with the disk file
    assert paths_of(index.search("quokka scheduler")) == ["docs/retry.md"]
    index.set_overlay("docs/retry.md", None)
    assert paths_of(index.search("quokka scheduler")) == []
    assert paths_of(index.search("retry_policy"))[0] == "docs/retry.md"


def test_schema_version_change_rebuilds(workspace, index_dir):
    index = WorkspaceIndex(workspace, index_path=index_dir)
    index.sync()
    index.close()
    del index
    version_file = index_dir / "ragls-index.json"
    version_file.write_text(json.dumps({"schema_version": SCHEMA_VERSION - 1}))
    reopened = WorkspaceIndex(workspace, index_path=index_dir)
    assert any("rebuilding" in m for m in reopened.messages)
    assert reopened.stats().chunks == 0
    report = reopened.sync()
    assert report.added == 3
    assert json.loads(version_file.read_text())["schema_version"] == SCHEMA_VERSION


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.one_of(
    st.text(max_size=80),
    st.sampled_from(['"', "foo(", 'a"b', "AND", "OR NOT", "*", "title:x", "(((", "\\", "~2", "^3", "😀 emoji", "", " ", "-x +y", "[1 TO 2]"]),
))
def test_any_text_is_a_valid_query(workspace, index_dir, query):
    index = _shared_index(workspace, index_dir)
    result = index.search(query)
    assert isinstance(result.covered, bool)
    assert len(result.hits) <= 5


_INDEXES: dict[Path, WorkspaceIndex] = {}


def _shared_index(workspace: Path, index_dir: Path) -> WorkspaceIndex:
    # hypothesis re-enters the test with the same fixtures: index once per fixture instance
    if index_dir not in _INDEXES:
        _INDEXES[index_dir] = WorkspaceIndex(workspace, index_path=index_dir)
        _INDEXES[index_dir].sync()
    return _INDEXES[index_dir]


def test_kill_9_mid_index_leaves_a_usable_index_and_the_next_run_catches_up(tmp_path):
    root = tmp_path / "big"
    for d in range(60):
        folder = root / f"section{d}"
        folder.mkdir(parents=True)
        for f in range(100):
            (folder / f"page{f}.md").write_text(
                f"# Page {d}-{f}\n\nThis page documents widget{d}x{f} and the frobnicator setting.\n" * 3
            )
    index_dir = tmp_path / "index"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ragls", "index", str(root), "--index-dir", str(index_dir), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    manifest = index_dir / "manifest.json"
    deadline = time.monotonic() + 60
    while not manifest.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    still_running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert still_running, "indexing finished before it could be killed; make the tree bigger"

    index = WorkspaceIndex(root, index_path=index_dir)
    before = index.stats()
    assert 0 < before.files < 6000  # the last commit, not everything
    assert index.search("frobnicator setting").hits  # opens and answers
    report = index.sync()
    assert report.files == 6000
    assert index.stats().chunks >= 6000
    assert report.added == 6000 - before.files


def test_a_second_process_gets_a_read_only_index_with_a_message(workspace, index_dir):
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time\n"
            "from ragls.index.workspace_index import WorkspaceIndex\n"
            f"ix = WorkspaceIndex({str(workspace)!r}, index_path=__import__('pathlib').Path({str(index_dir)!r}))\n"
            "ix.sync(); print('ready', flush=True); time.sleep(60)\n"
        )],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        second = WorkspaceIndex(workspace, index_path=index_dir)
        report = second.sync()
        assert second.stats().read_only
        assert any("another ragls process" in m for m in report.messages)
        assert paths_of(second.search("retry_policy"))[0] == "docs/retry.md"  # still answers
    finally:
        holder.kill()
        holder.wait()


def test_worker_processes_that_cannot_start_fall_back_to_in_process(tmp_path):
    # A program read from stdin has no __main__ file for spawned workers to re-import: they die.
    root = tmp_path / "many"
    root.mkdir()
    paragraph = "The quick brown fox documents the frobnicator. " * 60 + "\n"
    for n in range(250):
        (root / f"page{n}.md").write_text(f"# Page {n}\n\n" + paragraph * 4)
    program = (
        "from pathlib import Path\n"
        "from ragls.index.workspace_index import WorkspaceIndex\n"
        f"ix = WorkspaceIndex({str(root)!r}, index_path=Path({str(tmp_path / 'idx')!r}))\n"
        "print(ix.sync().files)\n"
    )
    # Markdown on a small machine would be prepared in-process anyway: ask for a worker.
    env = {**os.environ, "RAGLS_INDEX_WORKERS": "1"}
    done = subprocess.run([sys.executable, "-"], input=program, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "250"
    assert "continuing in-process" in done.stderr  # the fallback really ran


def test_update_paths_with_a_removed_folder_drops_everything_under_it(workspace, index_dir):
    index = WorkspaceIndex(workspace, index_path=index_dir)
    index.sync()
    import shutil

    shutil.move(str(workspace / "docs"), str(workspace.parent / "elsewhere"))
    report = index.update_paths([workspace / "docs"])
    assert report.removed == 1
    assert "docs/retry.md" not in paths_of(index.search("retry_policy client.toml"))
    assert index.stats().files == 2


def test_worker_count_follows_the_work(monkeypatch, tmp_path):
    from ragls.core.workspace import WorkspaceFile
    from ragls.index import parallel

    assert 1 <= parallel.available_cpus() <= (os.cpu_count() or 1)

    def files(suffix, n=300, size=10_000):
        return [WorkspaceFile(f"f{i}{suffix}", tmp_path / f"f{i}{suffix}", size, 0) for i in range(n)]

    monkeypatch.delenv("RAGLS_INDEX_WORKERS", raising=False)
    monkeypatch.setattr(parallel, "available_cpus", lambda: 2)
    assert parallel.worker_count(files(".py")) == 1  # code: preparing outweighs Tantivy
    assert parallel.worker_count(files(".md")) == 0  # prose: a worker would only add start-up and pickling
    assert parallel.worker_count(files(".py", n=50)) == 0  # too little to pay for a process
    monkeypatch.setattr(parallel, "available_cpus", lambda: 8)
    assert parallel.worker_count(files(".md")) == 4
    monkeypatch.setenv("RAGLS_INDEX_WORKERS", "2")
    assert parallel.worker_count(files(".md")) == 2


def _code_tree(root: Path, files: int, functions: int) -> None:
    """``files`` Python modules of ``functions`` small documented functions each."""
    root.mkdir()
    body = "".join(f"def function_{k}(value):\n    '''Doubles value {k}.'''\n    return value * 2\n\n" for k in range(functions))
    for n in range(files):
        (root / f"module{n}.py").write_text(f"# module {n}\n" + body)


def _count_in_process_preparation(monkeypatch) -> list[str]:
    """Files prepared in this process; a worker process calls the real function, uncounted."""
    from ragls.index import parallel

    prepared_here: list[str] = []
    real = parallel.prepare_file

    def counting(rel, *args):
        prepared_here.append(rel)
        return real(rel, *args)

    monkeypatch.setattr(parallel, "prepare_file", counting)
    return prepared_here


def test_work_shared_between_this_thread_and_a_worker_indexes_every_file_once(monkeypatch, tmp_path):
    root = tmp_path / "code"
    _code_tree(root, files=260, functions=120)
    reference = WorkspaceIndex(root, index_path=tmp_path / "in-process")
    monkeypatch.setenv("RAGLS_INDEX_WORKERS", "0")
    expected = reference.sync()
    monkeypatch.setenv("RAGLS_INDEX_WORKERS", "1")
    prepared_here = _count_in_process_preparation(monkeypatch)
    shared = WorkspaceIndex(root, index_path=tmp_path / "shared")
    report = shared.sync()
    assert report.files == expected.files == 260 and report.added == 260
    assert report.chunks == expected.chunks > 260
    assert report.bytes_read == expected.bytes_read > 2_000_000
    # The first batches go to the worker at once: it prepared some files, this thread the rest.
    assert len(prepared_here) < 260 and len(set(prepared_here)) == len(prepared_here)
    assert paths_of(shared.search("function_7 doubles"))  # and it answers


def test_cancelling_a_shared_sync_keeps_what_was_committed_and_the_next_sync_catches_up(monkeypatch, tmp_path):
    import threading

    from ragls.index import parallel

    root = tmp_path / "code"
    _code_tree(root, files=300, functions=200)
    monkeypatch.setenv("RAGLS_INDEX_WORKERS", "1")
    pools = []
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", lambda *a, **k: pools.append(ProcessPoolExecutor(*a, **k)) or pools[-1])
    cancel = threading.Event()
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    report = index.sync(progress=lambda p: cancel.set() if p.done_files >= 50 else None, cancel=cancel)
    assert len(pools) == 1  # the sync that was cancelled had a worker
    assert any("cancelled" in m for m in report.messages)
    assert 50 <= report.files < 300
    index.close()
    again = WorkspaceIndex(root, index_path=tmp_path / "idx")
    caught_up = again.sync()
    assert caught_up.files == 300 and caught_up.added == 300 - report.files


def test_under_any_matches_whole_folder_names():
    from ragls.index.workspace_index import _under_any

    assert _under_any("a/b/c.md", {"a/b"}) and _under_any("a/b/c.md", {"a"})
    assert not _under_any("a/bc.md", {"a/b"}) and not _under_any("a/b", {"a/b"}) and not _under_any("c.md", {"a"})


def test_greek_letters_match_their_names_and_results_show_the_text_as_written(tmp_path):
    root = tmp_path / "ws"
    (root / "notes").mkdir(parents=True)
    written = "# Cytokines\n\nMice without IFN-γ resist myocarditis.\nThe αvβ8 integrin activates TGF-β.\n"
    (root / "notes" / "cytokines.md").write_text(written)
    (root / "notes" / "other.md").write_text("# Other\n\nMice without a receptor resist nothing.\n")
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    index.sync()
    for query in ("IFN-gamma myocarditis", "IFN-γ myocarditis", "alphavbeta8 integrin", "αvβ8"):
        hit = index.search(query).hits[0]
        assert hit.chunk.path == "notes/cytokines.md", query
        assert hit.chunk.text == written.rstrip("\n"), query  # shown and cited as written, not folded
    assert 3 in index.search("IFN gamma").hits[0].matched_lines  # the line with "IFN-γ" is highlighted
    index.close()


def test_a_method_is_found_by_the_words_of_its_class(tmp_path):
    """A method's chunk rarely names its class; the class's sub-words still lead to it."""
    root = tmp_path / "ws"
    root.mkdir()
    body = "".join(f"        step_{i} = self.level + {i}\n" for i in range(70))
    (root / "limits.py").write_text(
        "class RetryBudget:\n    def refill(self):\n" + body + "\n\n"
        "class TokenBucket:\n    def refill(self):\n" + body
    )
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    index.sync()
    for query, expected in (("retry budget refill", "RetryBudget.refill"), ("token bucket refill", "TokenBucket.refill")):
        methods = [h.chunk for h in index.search(query).hits if any(s.endswith(".refill") for s in h.chunk.symbols)]
        assert methods and methods[0].symbols == (expected,), (query, [m.symbols for m in methods])
        assert "RetryBudget" not in methods[0].text and "TokenBucket" not in methods[0].text  # the method alone
    index.close()


def test_names_with_greek_letters_are_found_by_their_spelled_out_names(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "stats.py").write_text("def σ_max(values):\n    return 3 * spread(values)\n")
    (root / "other.py").write_text("def sigma_limit(values):\n    return max(values)\n")
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    index.sync()
    for query in ("σ_max", "sigma_max", "σ max"):
        top = index.search(query, explain=True).hits[0]
        assert top.chunk.path == "stats.py", query
        assert top.components["symbol"] > 0, query
    index.close()


def test_a_sync_without_the_c_speedups_says_so_and_indexes_the_same(tmp_path, monkeypatch, caplog):
    """An install without a C compiler falls back to the Python twins: same index, and a log line
    (``ragls -v index``) that tells why indexing is slower."""
    import logging

    from ragls.core import identifiers
    from ragls.index import parallel, workspace_index

    root = tmp_path / "ws"
    root.mkdir()
    for i in range(parallel.PARALLEL_MIN_FILES):
        (root / f"m{i}.py").write_text(f"def helper_{i}():\n    return {i}\n")
    for i in range(1, 4):  # found only through the camelCase sub-words
        (root / f"r{i}.py").write_text(f"class HTTPResponse{i}:\n    def readAll(self):\n        return {i}\n")
    ranked = {}
    for native in (True, False):
        monkeypatch.setattr(workspace_index, "NATIVE_SPEEDUPS", native)
        monkeypatch.setattr(identifiers, "camel_words", identifiers.camel_words if native else identifiers._camel_words_python)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="ragls.index.workspace_index"):
            index = WorkspaceIndex(root, index_path=tmp_path / f"index-{native}")
            index.sync()
        hits = index.search("read all", limit=50, max_per_file=1).hits
        # (sorted: equal scores come back in Tantivy's document order, which its threads decide)
        ranked[native] = sorted((h.chunk.path, h.chunk.start_line, round(h.score, 4)) for h in hits)
        index.close()
        said = any("without its C speed-ups" in r.getMessage() for r in caplog.records)
        assert said is (not native)
    assert ranked[True] == ranked[False] != []
    assert {path for path, _, _ in ranked[True]} >= {"r1.py", "r2.py", "r3.py"}
