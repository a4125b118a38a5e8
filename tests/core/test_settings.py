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


def test_the_vscode_extension_declares_the_servers_settings_with_the_same_defaults_and_ranges():
    """client-vscode/package.json repeats the settings for VS Code's settings UI: it must agree."""
    import dataclasses
    import json
    from pathlib import Path

    from ragls.settings import Settings, parse_settings

    package = json.loads((Path(__file__).resolve().parents[2] / "client-vscode" / "package.json").read_text())
    sections = package["contributes"]["configuration"]
    sections = [sections] if isinstance(sections, dict) else sections
    declared = {k[len("ragls."):]: v for s in sections for k, v in s["properties"].items() if not k.startswith("ragls.server.")}

    def leaves(obj, prefix=""):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            camel = f.name.split("_")[0] + "".join(p.title() for p in f.name.split("_")[1:])
            if dataclasses.is_dataclass(value):
                yield from leaves(value, f"{prefix}{camel}.")
            else:
                yield f"{prefix}{camel}", value

    server = dict(leaves(Settings()))
    assert set(declared) == set(server)
    for key, default in server.items():
        wanted = list(default) if isinstance(default, tuple) else default
        assert declared[key].get("default") == wanted, key

    def accepted(key, value) -> bool:
        section, _, name = key.rpartition(".")
        raw: dict = {}
        node = raw
        for part in section.split("."):
            node = node.setdefault(part, {})
        node[name] = value
        return not parse_settings(raw)[1]

    for key, spec in declared.items():
        if "minimum" in spec:
            assert accepted(key, spec["minimum"]) and not accepted(key, spec["minimum"] - 1), key
        if "maximum" in spec:
            assert accepted(key, spec["maximum"]) and not accepted(key, spec["maximum"] + 1), key
