"""Preparing files for the index in this thread and in worker processes at once.

Workers run :func:`ragls.index.preparation.prepare_batch` (read, hash, chunk, field values) and
return plain values; they never touch Tantivy. The thread that writes the index shares the work:
whenever no batch result is ready it prepares the next file itself, so nothing waits while the
workers start. If they cannot start or die, preparing continues in-process.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterator

from ragls.core.chunking import language_for
from ragls.core.workspace import WorkspaceFile
from ragls.index.preparation import PreparedFile, prepare_batch, prepare_file

# Below this much work, starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 200
PARALLEL_MIN_BYTES = 2_000_000
# Files handed to a worker at once: large enough that pickling and the pipe cost little per file.
_BATCH_BYTES = 256_000
_BATCH_FILES = 32


def prepare_all(
    files: list[WorkspaceFile],
    known_hash: Callable[[str], str | None],
    log: logging.Logger,
) -> Iterator[tuple[WorkspaceFile, PreparedFile]]:
    """Yield (file, prepared) for every file, in no particular order. ``known_hash(path)``: the
    content hash the index holds for it (an unchanged file is only hashed, not chunked).

    This thread and worker processes share the work: batches go to the workers, and whenever
    no batch result is ready this thread prepares the next file itself instead of waiting (so
    nothing waits while the workers start). Whether workers are worth starting at all depends
    on the machine and the kind of files (``worker_count``). Close the generator to stop them."""
    def job(wfile: WorkspaceFile) -> tuple[str, str, str | None]:
        # (made when the file's turn comes: a list of them all up front was 15 MB at 86,000 files)
        return wfile.path, str(wfile.abs_path), known_hash(wfile.path)

    workers = worker_count(files)
    if workers == 0:
        for wfile in files:
            yield wfile, prepare_file(*job(wfile))
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
                in_flight.append((taken, end, pool.submit(prepare_batch, [job(f) for f in files[taken:end]])))
                taken = end
            if in_flight and (in_flight[0][2].done() or taken >= len(files)):
                first, end, future = in_flight[0]
                prepared = future.result()  # raises BrokenProcessPool with the batch still listed
                in_flight.popleft()
                yield from zip(files[first:end], prepared)
            else:  # nothing ready: prepare a file here rather than wait
                yield files[taken], prepare_file(*job(files[taken]))
                taken += 1
    except (BrokenProcessPool, OSError) as exc:
        # Workers could not start or died (an embedding host without a re-importable __main__,
        # process limits): prepare what they held, and the rest, in this thread.
        log.warning("indexing workers unavailable (%s); continuing in-process", exc)
        for first, end, _future in in_flight:
            for wfile in files[first:end]:
                yield wfile, prepare_file(*job(wfile))
        in_flight.clear()
        for wfile in files[taken:]:
            yield wfile, prepare_file(*job(wfile))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def worker_count(files: list[WorkspaceFile]) -> int:
    """Worker processes for preparing ``files`` besides the calling thread (0: none).

    The calling process turns prepared chunks into documents, prepares files itself whenever no
    worker result is ready, and runs Tantivy's two indexing threads. On two cores a worker is
    started only for code-heavy work (chunked at definitions, ≈ 40 ns of Python per byte with the C
    speed-ups, ≈ 55 without): there it takes half the preparing off the process that also serves
    the editor, for the same wall time as preparing in-process. For prose (less Python per byte than
    Tantivy's ≈ 60 ns) its start-up and pickling only slow the run down (docs/BENCHMARKS.md).
    ``RAGLS_INDEX_WORKERS`` overrides the choice (benchmarks)."""
    if len(files) < PARALLEL_MIN_FILES:
        return 0
    total = sum(f.size for f in files)
    if total < PARALLEL_MIN_BYTES:
        return 0
    env = os.environ.get("RAGLS_INDEX_WORKERS", "").strip()
    if env.isdigit():
        return int(env)
    cpus = available_cpus()
    if cpus <= 2:
        code = sum(f.size for f in files if (language_for(f.path) or ("",))[0] == "code")
        return 1 if cpus == 2 and code * 2 >= total else 0
    return min(cpus - 1, 4)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, e.g. under taskset or
    a container's cpuset), not all the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _batch_end(files: list[WorkspaceFile], first: int) -> int:
    end, size = first, 0
    while end < len(files) and (end == first or (size < _BATCH_BYTES and end - first < _BATCH_FILES)):
        size += files[end].size
        end += 1
    return end
