"""The single thread that performs every index write of the server.

Tantivy allows one writer per index, and interleaving a full sync with watcher updates from
several threads would make the order of writes depend on timing. So every write — opening a
folder, the first sync, watcher batches, unsaved-buffer overlays, rebuilds, closing — is a job on
this one queue, run in order. Other threads (the event loop, watcher threads) only post jobs.

Jobs posted with a ``key`` coalesce: while a job with that key waits in the queue, posting it
again does nothing. Such jobs read their input (pending paths, buffer texts) when they *run*, so
a burst of posts becomes one write with everything that arrived meanwhile.
"""

from __future__ import annotations

import collections
import logging
import threading
from concurrent.futures import Future
from typing import Any, Callable, Hashable


class IndexWorker:
    def __init__(self, log: logging.Logger | None = None) -> None:
        self._log = log or logging.getLogger("ragls.lsp.index_worker")
        self._jobs: collections.deque[tuple[Hashable | None, str, Callable[[], Any], Future]] = collections.deque()
        self._queued_keys: dict[Hashable, Future] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="ragls-index-writer", daemon=True)
        self._thread.start()

    def post(self, name: str, job: Callable[[], Any], *, key: Hashable | None = None) -> Future:
        """Queue ``job``; returns a Future of its result. With ``key``: coalesce with a queued twin."""
        with self._cond:
            if self._stopping:
                future: Future = Future()
                future.set_exception(RuntimeError("ragls index worker is stopped"))
                return future
            if key is not None and key in self._queued_keys:
                return self._queued_keys[key]
            future = Future()
            self._jobs.append((key, name, job, future))
            if key is not None:
                self._queued_keys[key] = future
            self._cond.notify()
            return future

    def on_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._stopping:
                    self._cond.wait()
                if not self._jobs:  # stopping and drained
                    return
                key, name, job, future = self._jobs.popleft()
                if key is not None:
                    self._queued_keys.pop(key, None)
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:  # a failed job must not stop later writes
                self._log.exception("ragls index job %r failed", name)
                future.set_exception(exc)

    def stop(self, timeout: float = 10.0) -> None:
        """Run what is queued, then stop. Jobs posted later fail at once."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if not self.on_thread():
            self._thread.join(timeout)
