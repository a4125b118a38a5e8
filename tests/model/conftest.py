"""Session-scoped model files: a tiny random-weight llama GGUF, two LoRA adapters for it, one
adapter for another model, and broken files. All generated with ``gguf`` (no downloads)."""

from __future__ import annotations

import importlib.util
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from ragls.core.types import Chunk, Hit


def load_gguf_factory() -> ModuleType:
    """tests/model/gguf_factory.py as a module (tests run with --import-mode=importlib, no packages)."""
    name = "ragls_tests_gguf_factory"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("gguf_factory.py"))
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


gguf_factory = load_gguf_factory()


@dataclass(frozen=True)
class ModelFiles:
    model: Path
    lora_a: Path
    lora_b: Path
    lora_other_model: Path
    not_gguf: Path
    truncated: Path
    no_template: Path


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> ModelFiles:
    root = tmp_path_factory.mktemp("models")
    model = gguf_factory.write_model(root / "tiny.gguf")
    return ModelFiles(
        model=model,
        lora_a=gguf_factory.write_lora(root / "lora_a.gguf", seed=1),
        lora_b=gguf_factory.write_lora(root / "lora_b.gguf", seed=2, targets=("attn_k", "attn_output", "ffn_down")),
        lora_other_model=gguf_factory.write_mismatched_lora(root / "other_model_lora.gguf"),
        not_gguf=gguf_factory.write_not_gguf(root / "notes.gguf"),
        truncated=gguf_factory.write_truncated(model, root / "truncated.gguf"),
        no_template=gguf_factory.write_model(root / "no_template.gguf", chat_template=None),
    )


def make_hit(path: str, start: int, text: str, *, heading: tuple[str, ...] = (), symbols: tuple[str, ...] = ()) -> Hit:
    n = text.count("\n") + 1
    kind = "code" if path.endswith(".py") else "markdown"
    chunk = Chunk(path=path, start_line=start, end_line=start + n - 1, text=text, kind=kind, heading=heading, symbols=symbols)
    return Hit(chunk=chunk, score=1.0)


@pytest.fixture(name="make_hit")
def make_hit_fixture():
    return make_hit


@pytest.fixture()
def hits() -> list[Hit]:
    return [
        make_hit("docs/retries.md", 3, "## Retries\nThe client retries a failed request three times.\nSet `retry.count` to change it.", heading=("Guide", "Retries")),
        make_hit("src/client.py", 40, "def send(request, retries=3):\n    for attempt in range(retries):\n        ...", symbols=("send",)),
        make_hit("docs/timeouts.md", 1, "# Timeouts\nRequests time out after 30 seconds.", heading=("Timeouts",)),
    ]


@pytest.fixture()
def log() -> logging.Logger:
    return logging.getLogger("ragls.test.model")


@pytest.fixture(scope="session", name="gguf_factory")
def gguf_factory_fixture() -> ModuleType:
    """tests/model/gguf_factory.py, for tests that write their own model files."""
    return gguf_factory
