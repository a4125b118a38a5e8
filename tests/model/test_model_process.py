"""The model process's life cycle, with the tiny generated model (fast): crashes between and during
requests, the restart backoff and its limit, a worker that hangs after a cancel, and shutdown."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from ragls.core.requests import AnswerHooks, AnswerRequest
from ragls.model import host as host_module
from ragls.model.backend import ModelCrashed
from ragls.model.host import ModelEvent, ModelHost
from ragls.settings import ModelSettings


def settings_for(model_files, **overrides) -> ModelSettings:
    # random weights: the grounded guard would remove every sentence
    base = dict(path=str(model_files.model), context_size=1024, max_tokens=32, gpu_layers=0, temperature=1.0, seed=3, grounded_guard=False)
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
    assert host.answer(AnswerRequest("How many retries?"), hits).source.startswith("model:")
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
    cancelled_at: list[float] = []

    def freeze_then_cancel(_: str) -> None:
        if not cancel.is_set():
            os.kill(pid, signal.SIGSTOP)  # stuck: neither generating nor reading its connection
            cancelled_at.append(time.monotonic())
            cancel.set()

    with pytest.raises(ModelCrashed, match="did not stop within 2 s of a cancel"):
        host.answer(AnswerRequest("How many retries?"), hits, AnswerHooks(on_delta=freeze_then_cancel, cancel=cancel))
    assert time.monotonic() - cancelled_at[0] < 2 + 4  # the grace period, then a kill (slack for a busy CI)
    wait_for(lambda: host.status().state == "ready" and host.status().process_id != pid)
    host.close()


def test_a_callback_that_raises_does_not_leave_the_worker_generating(model_files, hits) -> None:
    host = ModelHost(settings_for(model_files, max_tokens=2000, context_size=4096))
    host.start()
    assert host.wait_ready(30)

    def explode(_: str) -> None:
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError, match="client went away"):
        host.answer(AnswerRequest("How many retries?"), hits, AnswerHooks(on_delta=explode))
    started = time.monotonic()
    answer = host.answer(AnswerRequest("How many retries?", max_tokens=8), hits)
    assert answer.source.startswith("model:")
    assert time.monotonic() - started < 5  # not queued behind 2,000 tokens of the abandoned answer
    host.close()


def test_llama_cpp_is_never_imported_by_the_server_or_the_cli(model_files) -> None:
    """The invariant that makes a native crash survivable: llama.cpp lives in the model process."""
    import subprocess
    import sys

    probe = (
        "import sys, logging\n"
        "import ragls.cli, ragls.lsp.server, ragls.lsp.handlers, ragls.answering\n"
        "from ragls.model.host import ModelHost\n"
        "from ragls.settings import ModelSettings\n"
        f"host = ModelHost(ModelSettings(path={str(model_files.model)!r}, context_size=1024, max_tokens=8, gpu_layers=0))\n"
        "host.start(); assert host.wait_ready(60), host.status()\n"
        "host.close()\n"
        "print('llama_cpp' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_auto_weight_repacking_is_turned_off_after_a_crash(model_files, fast_backoff) -> None:
    events: list[ModelEvent] = []
    host = ModelHost(settings_for(model_files, weight_repacking="auto"), listener=events.append)
    host.start()
    assert host.wait_ready(30)
    if "weight repacking off" in host.status().detail:
        pytest.skip("this CPU has AMX: auto starts with repacking off")
    assert "weight repacking on (auto)" in host.status().detail
    os.kill(host.status().process_id, signal.SIGSEGV)
    wait_for(lambda: host.status().state == "ready" and host.status().recent_crashes == 1)
    assert "weight repacking off" in host.status().detail
    assert any("with weight repacking off" in e.message for e in events if e.kind == "crashed")
    host.close()


def test_weight_repacking_setting_is_validated_and_forced_values_are_used(model_files) -> None:
    from ragls.settings import parse_settings

    settings, warnings = parse_settings({"model": {"weightRepacking": "sometimes"}})
    assert settings.model.weight_repacking == "auto" and any("weightRepacking" in w for w in warnings)
    host = ModelHost(settings_for(model_files, weight_repacking="off"))
    host.start()
    assert host.wait_ready(30) and "weight repacking off (model.weightRepacking off)" in host.status().detail
    host.close()


def test_a_follow_up_question_reuses_the_prefix_cached_in_the_model_process(model_files, hits) -> None:
    """System message + passages stay in the worker's KV cache between requests: the second
    question's prompt reading starts where the shared prefix ends, not at token 0."""
    host = ModelHost(settings_for(model_files, max_tokens=4))
    host.start()
    assert host.wait_ready(30)
    host._backend.reset_cache()
    cold: list[tuple[int, int]] = []
    host.answer(AnswerRequest("How many retries?"), hits, AnswerHooks(on_prompt=lambda done, total: cold.append((done, total))))
    follow: list[tuple[int, int]] = []
    host.answer(AnswerRequest("And the timeout?"), hits, AnswerHooks(on_prompt=lambda done, total: follow.append((done, total))))
    host.close()
    assert cold and follow
    assert cold[0][0] <= 64  # read from the start, in slices
    total = follow[-1][1]
    assert follow[0][0] > total * 0.8, (follow, total)  # only the new question's tokens were read
