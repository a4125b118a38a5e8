"""Bad models get a clear message and nothing crashes: each case a model file or setting a user
could point ragls at. The host must end in a state that says what is wrong (or keep serving with a
warning), never take the caller down."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from ragls.core.requests import AnswerRequest
from ragls.model.backend import ModelUnavailable
from ragls.model.gguf_header import GGUFHeaderError, context_that_fits, read_header
from ragls.model.host import ModelHost
from ragls.model.llama_backend import available_cores
from ragls.settings import ModelSettings, parse_settings


def settings_for(path: Path, **overrides) -> ModelSettings:
    # random weights: the grounded guard would remove every sentence
    base = dict(path=str(path), context_size=1024, max_tokens=32, gpu_layers=0, temperature=0.0, seed=1, grounded_guard=False)
    base.update(overrides)
    return ModelSettings(**base)


def loaded(settings: ModelSettings) -> ModelHost:
    host = ModelHost(settings)
    host.start()
    host.wait_ready(120)
    return host


def failure_of(path: Path, **overrides) -> str:
    host = loaded(settings_for(path, **overrides))
    status = host.status()
    host.close()
    assert status.state == "failed", status
    return status.detail


def test_a_truncated_real_model_fails_with_a_reason(smollm2_gguf: Path, tmp_path: Path) -> None:
    cut = tmp_path / "half.gguf"
    with smollm2_gguf.open("rb") as source, cut.open("wb") as out:
        out.write(source.read(smollm2_gguf.stat().st_size * 2 // 5))
    detail = failure_of(cut)
    assert "half.gguf" in detail and "crashed" not in detail, detail


def test_a_header_cut_short_is_named_before_llama_cpp_reads_it(smollm2_gguf: Path, tmp_path: Path) -> None:
    cut = tmp_path / "header.gguf"
    with smollm2_gguf.open("rb") as source:
        cut.write_bytes(source.read(4096))  # inside the vocabulary array
    with pytest.raises(GGUFHeaderError, match="truncated"):
        read_header(cut)
    assert "not a usable GGUF model" in failure_of(cut) and "truncated" in failure_of(cut)


def test_a_future_gguf_version_is_refused_clearly(tmp_path: Path) -> None:
    file = tmp_path / "v9.gguf"
    file.write_bytes(b"GGUF" + struct.pack("<IQQ", 9, 0, 0))
    assert "GGUF version 9" in failure_of(file)


def test_a_vocabulary_only_gguf_is_refused_clearly(gguf_factory, tmp_path: Path) -> None:
    file = gguf_factory.write_model(tmp_path / "vocab.gguf", weights=False)
    assert "holds no weights (a vocabulary-only GGUF?)" in failure_of(file)


def test_an_architecture_llama_cpp_lacks_is_refused_with_llama_cpps_reason(gguf_factory, tmp_path: Path) -> None:
    file = gguf_factory.write_model(tmp_path / "exotic.gguf", architecture="nosucharch")
    detail = failure_of(file)
    assert "exotic.gguf" in detail and "nosucharch" in detail, detail


def test_a_context_above_the_training_context_is_clamped_with_a_warning(model_files) -> None:
    trained = read_header(model_files.model).training_context
    host = loaded(settings_for(model_files.model, context_size=trained * 4))
    status = host.status()
    host.close()
    assert status.state == "ready" and f"context {trained}" in status.detail, status
    assert any("above the model's training context" in w for w in status.warnings), status.warnings


def test_a_context_that_cannot_fit_in_memory_is_lowered_with_a_warning() -> None:
    # 100k tokens x 23 KB (SmolLM2's KV cache per token) = 2.2 GB, with 1 GB available
    context, warnings = context_that_fits(100_000, training=131_072, kv_bytes_per_token=23_040, available=2**30)
    assert context == (2**30 // 2 // 23_040) // 256 * 256 and context >= 256
    assert "needs a 2197 MB KV cache but only 1024 MB" in warnings[0]
    assert context_that_fits(4096, training=8192, kv_bytes_per_token=23_040, available=2**34) == (4096, [])
    assert context_that_fits(4096, training=None, kv_bytes_per_token=None, available=None) == (4096, [])


def test_thread_counts_outside_the_machine_are_corrected_with_a_message(model_files) -> None:
    settings, warnings = parse_settings({"model": {"threads": 0}})
    assert settings.model.threads is None and any("model.threads" in w for w in warnings)
    host = loaded(settings_for(model_files.model, threads=available_cores() + 7))
    status = host.status()
    host.close()
    assert status.state == "ready" and f"{available_cores()} threads" in status.detail
    assert any(f"more than the {available_cores()} cores" in w for w in status.warnings), status.warnings


def test_the_model_file_deleted_while_loaded_keeps_answering(model_files, tmp_path: Path, hits) -> None:
    copy = tmp_path / "model.gguf"
    shutil.copy(model_files.model, copy)
    host = loaded(settings_for(copy))
    copy.unlink()
    answer = host.answer(AnswerRequest("How many retries?"), hits)
    assert answer.source.startswith("model:")
    assert any("was deleted" in w for w in host.status().warnings)
    host.close()


def test_the_model_file_replaced_while_loaded_is_reloaded(model_files, tmp_path: Path, hits, gguf_factory) -> None:
    copy = tmp_path / "model.gguf"
    shutil.copy(model_files.model, copy)
    host = loaded(settings_for(copy))
    before = host.status().process_id
    replacement = gguf_factory.write_model(tmp_path / "new.gguf", seed=5)
    os.replace(replacement, copy)  # how a download or a re-quantisation lands
    with pytest.raises(ModelUnavailable, match="changed on disk"):
        host.answer(AnswerRequest("How many retries?"), hits)
    assert host.wait_ready(60)
    assert host.status().process_id != before
    assert host.answer(AnswerRequest("How many retries?"), hits).source.startswith("model:")
    host.close()
