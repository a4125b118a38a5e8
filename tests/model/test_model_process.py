"""The model process's life cycle, with the tiny generated model (fast): crashes between and during
requests, the restart backoff and its limit, a worker that hangs after a cancel, and shutdown."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import pytest

from ragls.model import host as host_module
from ragls.model.backend import ModelCrashed
from ragls.model.host import ModelEvent, ModelHost
from ragls.settings import ModelSettings


def settings_for(model_files, **overrides) -> ModelSettings:
    base = dict(path=str(model_files.model), context_size=1024, max_tokens=32, gpu_layers=0, temperature=1.0, seed=3)
    base.update(overrides)
    return ModelSettings(**base)


def wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture()
def fast_backoff(monkeypatch):
    monkeypatch.setattr(host_module, "RESTART_BACKOFF_S", 0.1)


def test_the_model_runs_in_a_child_process_that_closes_with_the_host(model_files) -> None:
    host = ModelHost(settings_for(model_files))
    host.start()
    assert host.wait_ready(30)
    pid = host.status().process_id
    assert pid and pid != os.getpid()
    os.kill(pid, 0)  # alive
    host.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone (and reaped: no zombie)


def test_a_process_killed_while_idle_is_restarted_before_the_next_question(model_files, hits, fast_backoff) -> None:
    events: list[ModelEvent] = []
    host = ModelHost(settings_for(model_files), listener=events.append)
    host.start()
    assert host.wait_ready(30)
    first = host.status().process_id
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: host.status().state == "ready" and host.status().process_id not in (None, first))
    assert [e.kind for e in events] == ["ready", "crashed", "ready"]
    assert "SIGKILL" in events[1].message and "restarting" in events[1].message
    assert host.answer("How many retries?", hits).source.startswith("model:")
    host.close()


def test_three_crashes_within_the_window_stop_the_restarts(model_files, hits, fast_backoff) -> None:
    events: list[ModelEvent] = []
    host = ModelHost(settings_for(model_files), listener=events.append)
    host.start()
    for crash in range(3):
        assert wait_for(lambda: host.status().state in ("ready", "failed")) and host.status().state == "ready"
        os.kill(host.status().process_id, signal.SIGSEGV)
        if crash < 2:
            wait_for(lambda: host.status().state == "loading" or host.status().recent_crashes == crash + 1)
    wait_for(lambda: host.status().state == "failed")
    status = host.status()
    assert "crashed 3 times" in status.detail and "SIGSEGV" in status.detail, status.detail
    assert status.recent_crashes == 3 and status.last_crash.startswith("SIGSEGV")
    assert [e.kind for e in events] == ["ready", "crashed", "ready", "crashed", "ready", "failed"]
    assert host.wait_ready(1) is False
    # New settings are a new start: the crash history is forgotten.
    host.update_settings(settings_for(model_files, context_size=2048))
    assert host.wait_ready(30) and host.status().recent_crashes == 0
    host.close()


def test_a_worker_that_ignores_a_cancel_is_killed_and_restarted(model_files, hits, fast_backoff) -> None:
    host = ModelHost(settings_for(model_files, max_tokens=2000, context_size=4096))
    host.start()
    assert host.wait_ready(30)
    pid = host.status().process_id
    cancel = threading.Event()

    def freeze_then_cancel(_: str) -> None:
        if not cancel.is_set():
            os.kill(pid, signal.SIGSTOP)  # stuck: neither generating nor reading its connection
            cancel.set()

    started = time.monotonic()
    with pytest.raises(ModelCrashed, match="did not stop within 2 s of a cancel"):
        host.answer("How many retries?", hits, on_delta=freeze_then_cancel, cancel=cancel)
    assert time.monotonic() - started < 10
    wait_for(lambda: host.status().state == "ready" and host.status().process_id != pid)
    host.close()


def test_a_callback_that_raises_does_not_leave_the_worker_generating(model_files, hits) -> None:
    host = ModelHost(settings_for(model_files, max_tokens=2000, context_size=4096))
    host.start()
    assert host.wait_ready(30)

    def explode(_: str) -> None:
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError, match="client went away"):
        host.answer("How many retries?", hits, on_delta=explode)
    started = time.monotonic()
    answer = host.answer("How many retries?", hits, max_tokens=8)
    assert answer.source.startswith("model:")
    assert time.monotonic() - started < 5  # not queued behind 2,000 tokens of the abandoned answer
    host.close()
