"""The server's work pool: answers run beside the event loop without starving it (issue 13: a
``ragls/status`` waited 248 ms while 200 asks ran, with 8 answer threads fighting the loop for the GIL)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from ragls.lsp import language_server
from ragls.lsp.handlers import create_server


def test_work_pool_is_as_wide_as_the_machine_not_wider(monkeypatch):
    monkeypatch.delenv("RAGLS_WORK_THREADS", raising=False)
    width = language_server._work_pool_width()
    cores = len(os.sched_getaffinity(0))
    assert 2 <= width <= 4
    assert width == max(2, min(4, cores))


def test_work_pool_width_override_for_benchmarks(monkeypatch):
    monkeypatch.setenv("RAGLS_WORK_THREADS", "3")
    assert language_server._work_pool_width() == 3
    monkeypatch.setenv("RAGLS_WORK_THREADS", "zero")  # nonsense falls back to the default
    assert 2 <= language_server._work_pool_width() <= 4


def test_in_pool_runs_on_the_work_pool_and_keeps_the_loop_free():
    server = create_server()
    assert server.work_pool is not server.thread_pool
    assert sys.getswitchinterval() <= language_server.GIL_SWITCH_INTERVAL_S
    release = threading.Event()

    async def scenario():
        width = server.work_pool._max_workers
        # Fill the pool and queue more behind it: the loop must still run its own work at once.
        blocked = [asyncio.ensure_future(server.in_pool(release.wait, 5)) for _ in range(width * 3)]
        names = []
        probe = asyncio.ensure_future(server.in_pool(lambda: names.append(threading.current_thread().name)))
        loop_started = asyncio.get_running_loop().time()
        await asyncio.sleep(0.01)
        loop_lag = asyncio.get_running_loop().time() - loop_started
        assert not probe.done()  # queued behind the full pool, not run on some other thread
        release.set()
        await asyncio.gather(*blocked, probe)
        return names, loop_lag

    try:
        names, loop_lag = asyncio.run(scenario())
    finally:
        server.shutdown()
    assert names and names[0].startswith("ragls-work")
    assert loop_lag < 1.0


def test_shutdown_drops_queued_work():
    server = create_server()
    release = threading.Event()

    async def scenario():
        width = server.work_pool._max_workers
        running = [asyncio.ensure_future(server.in_pool(release.wait, 5)) for _ in range(width)]
        queued = asyncio.ensure_future(server.in_pool(lambda: "ran"))
        await asyncio.sleep(0.05)
        server.shutdown()
        release.set()
        await asyncio.gather(*running)
        with pytest.raises(asyncio.CancelledError):
            await queued

    asyncio.run(scenario())
