"""Typed settings: every field has a default; bad values warn and fall back, never raise."""

from __future__ import annotations

import pytest

from ragls.settings import AdapterSpec, Settings, parse_settings


def test_empty_and_missing_give_defaults_without_warnings():
    for raw in (None, {}):
        settings, warnings = parse_settings(raw)
        assert settings == Settings() and warnings == []


def test_camel_case_values_are_parsed():
    settings, warnings = parse_settings({
        "index": {"maxFileSizeKb": 64, "exclude": ["vendor/**"], "respectGitignore": False},
        "retrieval": {"passages": 3, "maxPerFile": 1},
        "model": {"path": "/m.gguf", "gpuLayers": 0, "contextSize": 2048, "adapters": [{"name": "terse", "path": "/t.gguf", "scale": 0.5}], "defaultAdapters": ["terse"]},
        "hover": {"adapters": ["terse"]},
    })
    assert warnings == []
    assert settings.index.max_file_size_kb == 64 and settings.index.exclude == ("vendor/**",) and not settings.index.respect_gitignore
    assert (settings.retrieval.passages, settings.retrieval.max_per_file) == (3, 1)
    assert settings.model.adapters == (AdapterSpec("terse", "/t.gguf", 0.5),)
    assert settings.model.context_size == 2048 and settings.model.gpu_layers == 0


@pytest.mark.parametrize(
    "raw, field, default, message",
    [
        ({"index": {"maxFileSizeKb": -3}}, ("index", "max_file_size_kb"), 1024, "index.maxFileSizeKb"),
        ({"retrieval": {"passages": "five"}}, ("retrieval", "passages"), 5, "retrieval.passages"),
        ({"model": {"contextSize": 10}}, ("model", "context_size"), 4096, "model.contextSize"),
        ({"model": {"temperature": True}}, ("model", "temperature"), 0.2, "model.temperature"),
        ({"model": {"adapters": [{"path": "/a.gguf", "scale": 99}]}}, ("model", "adapters"), (), "model.adapters"),
        ({"hover": {"enabled": "yes"}}, ("hover", "enabled"), True, "hover.enabled"),
        ({"index": "all"}, ("index", "max_file_size_kb"), 1024, "'index' must be an object"),
    ],
)
def test_invalid_values_warn_and_fall_back(raw, field, default, message):
    settings, warnings = parse_settings(raw)
    section, name = field
    assert getattr(getattr(settings, section), name) == default
    assert any(message in w for w in warnings), warnings


def test_unknown_keys_and_unknown_adapter_names_are_reported():
    _, warnings = parse_settings({"model": {"nGpuLayer": 99, "defaultAdapters": ["ghost"]}, "bogus": 1})
    assert any("model.nGpuLayer" in w for w in warnings)
    assert any("'bogus'" in w for w in warnings)
    assert any("ghost" in w for w in warnings)
