"""Typed settings with a default for every field.

Raw options arrive as camelCase JSON (LSP ``initializationOptions``/``workspace/configuration``
section ``ragls``) or from CLI flags. :func:`parse_settings` turns them into frozen dataclasses;
unknown keys and invalid values produce a warning and fall back to the default — never an
exception. The warnings are returned so the caller (LSP or CLI) can show them to the user.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True, slots=True)
class IndexSettings:
    include: tuple[str, ...] = ()  # gitignore-style patterns; empty = every supported file
    exclude: tuple[str, ...] = ()  # gitignore-style patterns, on top of the ignore files
    max_file_size_kb: int = 1024
    index_dir: str | None = None  # default: per-workspace folder in the user cache dir
    respect_gitignore: bool = True


@dataclass(frozen=True, slots=True)
class RetrievalSettings:
    passages: int = 5
    max_per_file: int = 2
    # An answer without a model also reads the other sections of the best this-many pages: the page
    # retrieval found is usually right where the passage it picked is not (docs/EVALUATION.md).
    context_pages: int = 2


@dataclass(frozen=True, slots=True)
class HoverSettings:
    enabled: bool = True
    adapters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    name: str
    path: str
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class RemoteSettings:
    url: str | None = None
    api_key: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class ModelSettings:
    path: str | None = None
    gpu_layers: int = -1  # -1: offload everything when the build supports a GPU
    context_size: int = 4096
    threads: int | None = None
    max_tokens: int = 512
    temperature: float = 0.2
    seed: int | None = None
    adapters: tuple[AdapterSpec, ...] = ()
    default_adapters: tuple[str, ...] = ()
    # "auto" | "on" | "off": llama.cpp's repacking of CPU weights (faster kernels; crashes on some
    # CPUs). "auto" leaves it off where it is known to crash (AMX) and after a crash of the model.
    weight_repacking: str = "auto"
    # Remove each model sentence its cited passages do not support before the user sees it, and
    # stream only checked sentences (core/grounding.py). Off shows the model's raw text.
    grounded_guard: bool = True
    remote: RemoteSettings = field(default_factory=RemoteSettings)


@dataclass(frozen=True, slots=True)
class Settings:
    index: IndexSettings = field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    hover: HoverSettings = field(default_factory=HoverSettings)
    model: ModelSettings = field(default_factory=ModelSettings)


# --- parsing ---------------------------------------------------------------------------------

def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


Validator = Callable[[Any], Any]  # returns the converted value or raises ValueError


def _int_range(lo: int | None, hi: int | None, *, optional: bool = False) -> Validator:
    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected an integer")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ValueError(f"expected {lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}")
        return value

    return check


def _float_range(lo: float, hi: float) -> Validator:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("expected a number")
        if not lo <= value <= hi:
            raise ValueError(f"expected {lo}..{hi}")
        return float(value)

    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _opt_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _choice(*options: str) -> Validator:
    def check(value: Any) -> Any:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return value

    return check


def _str_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return tuple(value)


def _adapters(value: Any) -> tuple[AdapterSpec, ...]:
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a list of {name, path, scale}")
    specs = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise ValueError("each adapter needs at least a 'path' string")
        unknown = set(item) - {"name", "path", "scale"}
        if unknown:
            raise ValueError(f"unknown adapter keys: {', '.join(sorted(unknown))}")
        scale = item.get("scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not -4.0 <= scale <= 4.0:
            raise ValueError("adapter scale must be a number in -4..4")
        name = item.get("name") or re.sub(r"\.gguf$", "", item["path"].replace("\\", "/").rsplit("/", 1)[-1])
        specs.append(AdapterSpec(name=str(name), path=item["path"], scale=float(scale)))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError("adapter names must be unique")
    return tuple(specs)


_VALIDATORS: dict[type, dict[str, Validator]] = {
    IndexSettings: {
        "include": _str_list,
        "exclude": _str_list,
        "max_file_size_kb": _int_range(1, 1024 * 1024),
        "index_dir": _opt_str,
        "respect_gitignore": _bool,
    },
    RetrievalSettings: {"passages": _int_range(1, 50), "max_per_file": _int_range(1, 50), "context_pages": _int_range(0, 10)},
    HoverSettings: {"enabled": _bool, "adapters": _str_list},
    RemoteSettings: {"url": _opt_str, "api_key": _opt_str, "model": _opt_str},
    ModelSettings: {
        "path": _opt_str,
        "gpu_layers": _int_range(-1, 100_000),
        "context_size": _int_range(256, 1_048_576),
        "threads": _int_range(1, 1024, optional=True),
        "max_tokens": _int_range(1, 65_536),
        "temperature": _float_range(0.0, 5.0),
        "seed": _int_range(0, 2**31 - 1, optional=True),
        "adapters": _adapters,
        "default_adapters": _str_list,
        "weight_repacking": _choice("auto", "on", "off"),
        "grounded_guard": _bool,
    },
}


def _parse_section(cls: type, raw: Any, where: str, warnings: list[str]) -> Any:
    defaults = cls()
    if raw is None:
        return defaults
    if not isinstance(raw, dict):
        warnings.append(f"ragls setting '{where}' must be an object; using defaults")
        return defaults
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = _snake(key)
        dotted = f"{where}.{key}" if where else key
        if name not in fields:
            warnings.append(f"unknown ragls setting '{dotted}' ignored")
            continue
        nested = fields[name].default_factory  # type: ignore[misc]
        if nested is not dataclasses.MISSING and dataclasses.is_dataclass(nested):
            values[name] = _parse_section(nested, value, dotted, warnings)
            continue
        try:
            values[name] = _VALIDATORS[cls][name](value)
        except ValueError as exc:
            default = getattr(defaults, name)
            warnings.append(f"invalid ragls setting '{dotted}' = {value!r}: {exc}; using default {default!r}")
    return dataclasses.replace(defaults, **values)


def parse_settings(raw: Any) -> tuple[Settings, list[str]]:
    """Parse raw camelCase (or snake_case) options into :class:`Settings` plus warnings."""
    warnings: list[str] = []
    settings = _parse_section(Settings, raw, "", warnings)
    known = {a.name for a in settings.model.adapters}
    for name in settings.model.default_adapters + settings.hover.adapters:
        if name not in known:
            warnings.append(f"ragls setting names adapter '{name}' that is not in model.adapters")
    return settings, warnings
