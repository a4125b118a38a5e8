"""`ragls ask --model` end to end: a real process, a real index, the generated GGUF model."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "retry.md").write_text(
        "# Retries\n\nThe client retries failed requests automatically.\n"
        "Retries are configured with the `retry_policy` setting in `client.toml`.\n"
    )
    return root


def ask(workspace: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ragls", "ask", str(workspace), "How are retries configured?",
         "--index-dir", str(tmp_path / "idx"), "--max-tokens", "48", "--seed", "7", *extra],
        capture_output=True, text=True, timeout=180,
    )


def test_ask_with_a_model_cites_only_given_passages(workspace, tmp_path, model_files):
    # Random weights write nonsense the grounded guard would remove: this is about the grammar.
    # (A sentence may run to 40 words of 40 characters before the grammar forces its citation;
    # random weights rarely end one sooner, so 300 tokens held no complete sentence for most seeds
    # once the prompt changed: room for one.)
    done = ask(workspace, tmp_path, "--model", str(model_files.model), "--adapter", f"{model_files.lora_a}:0.5", "--json", "--temperature", "1.5", "--grounded-guard", "off", "--max-tokens", "1200")
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout)
    assert answer["source"].startswith("model:")
    given = {c["id"] for c in answer["citations"]}
    # Random weights say nonsense, but the grammar only lets them cite passages that were retrieved.
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])} <= given
    assert all(c["path"] == "docs/retry.md" for c in answer["citations"])


def test_a_broken_model_falls_back_to_extractive_with_a_message(workspace, tmp_path, model_files):
    done = ask(workspace, tmp_path, "--model", str(model_files.not_gguf), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout)
    assert answer["source"] == "extractive" and not answer["abstained"]
    assert "model unusable" in done.stderr and "Traceback" not in done.stderr


def test_text_mode_streams_the_model_answer(workspace, tmp_path, model_files):
    done = ask(workspace, tmp_path, "--model", str(model_files.model), "--grounded-guard", "off", "--max-tokens", "300", "--temperature", "1.5", "--seed", "3")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "model unusable" not in done.stderr and "Traceback" not in done.stderr
    # the model's words were streamed, not the extractive answer (what the broken model falls back to)
    extractive = json.loads(ask(workspace, tmp_path, "--json").stdout)["answer"]
    assert done.stdout.strip() and extractive not in done.stdout
