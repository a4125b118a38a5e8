"""Reads a GGUF file's header and metadata in plain Python, before llama.cpp sees the file.

Why: native code that meets a bad file may crash instead of failing, and some facts are needed
before a context exists — the training context (to clamp ``contextSize``) and the size of the KV
cache a context would take (to refuse one that cannot fit in memory). Reading the header here
gives clear messages for truncated files, files with no weights, and shapes that cannot fit.

Only scalar metadata values are kept; arrays (the vocabulary) are skipped over.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAGIC = b"GGUF"
_SCALARS = {  # GGUF value type -> struct format
    0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d",
}
_STRING, _ARRAY = 8, 9
# More than this many metadata entries, or a string longer than this, is not a model: a damaged file.
_MAX_ENTRIES = 1 << 20
_MAX_STRING = 1 << 26


class GGUFHeaderError(ValueError):
    """The file is not a readable GGUF (the message says what is wrong with it)."""


@dataclass(frozen=True, slots=True)
class GGUFHeader:
    version: int
    tensor_count: int
    metadata: dict[str, object]

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    def arch_int(self, key: str) -> int | None:
        value = self.metadata.get(f"{self.architecture}.{key}")
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    @property
    def training_context(self) -> int | None:
        return self.arch_int("context_length")

    def kv_bytes_per_token(self, bytes_per_value: int = 2) -> int | None:
        """The KV cache's size per context token (f16 by default), or None when the metadata does
        not say (an architecture with another layout: nothing is checked then)."""
        layers = self.arch_int("block_count")
        embedding = self.arch_int("embedding_length")
        heads = self.arch_int("attention.head_count")
        if not layers or not embedding or not heads:
            return None
        kv_heads = self.arch_int("attention.head_count_kv") or heads
        key = self.arch_int("attention.key_length") or embedding // heads
        value = self.arch_int("attention.value_length") or embedding // heads
        return layers * kv_heads * (key + value) * bytes_per_value


def _read(handle: BinaryIO, size: int, what: str) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise GGUFHeaderError(f"the file ends inside its header ({what}): truncated?")
    return data


def _unpack(handle: BinaryIO, fmt: str, what: str):
    return struct.unpack("<" + fmt, _read(handle, struct.calcsize("<" + fmt), what))[0]


def _string(handle: BinaryIO, what: str) -> str:
    length = _unpack(handle, "Q", what)
    if length > _MAX_STRING:
        raise GGUFHeaderError(f"a metadata string of {length} bytes ({what}): the file is damaged")
    return _read(handle, length, what).decode("utf-8", "replace")


def _skip_array(handle: BinaryIO, key: str) -> None:
    element, count = _unpack(handle, "I", key), _unpack(handle, "Q", key)
    if element == _STRING:
        for _ in range(count):
            length = _unpack(handle, "Q", key)
            if length > _MAX_STRING:
                raise GGUFHeaderError(f"a string of {length} bytes in {key}: the file is damaged")
            handle.seek(length, 1)
    elif element in _SCALARS:
        handle.seek(struct.calcsize("<" + _SCALARS[element]) * count, 1)
    elif element == _ARRAY:
        for _ in range(count):
            _skip_array(handle, key)
    else:
        raise GGUFHeaderError(f"unknown GGUF value type {element} in {key}: the file is damaged or too new")


def read_header(path: Path) -> GGUFHeader:
    """Header and scalar metadata of a GGUF file. Raises GGUFHeaderError, OSError."""
    size = path.stat().st_size
    with path.open("rb", buffering=1 << 16) as handle:
        if _read(handle, 4, "magic") != MAGIC:
            raise GGUFHeaderError("no GGUF header")
        version = _unpack(handle, "I", "version")
        if version not in (2, 3):
            raise GGUFHeaderError(f"GGUF version {version} (this llama.cpp reads 2 and 3)")
        tensors, entries = _unpack(handle, "Q", "tensor count"), _unpack(handle, "Q", "metadata count")
        if entries > _MAX_ENTRIES:
            raise GGUFHeaderError(f"{entries} metadata entries: the file is damaged")
        metadata: dict[str, object] = {}
        for _ in range(entries):
            key = _string(handle, "metadata key")
            kind = _unpack(handle, "I", key)
            if kind in _SCALARS:
                metadata[key] = _unpack(handle, _SCALARS[kind], key)
            elif kind == _STRING:
                metadata[key] = _string(handle, key)
            elif kind == _ARRAY:
                _skip_array(handle, key)
            else:
                raise GGUFHeaderError(f"unknown GGUF value type {kind} in {key}: the file is damaged or too new")
            if handle.tell() > size:
                raise GGUFHeaderError(f"the file ends inside its metadata ({key}): truncated?")
    return GGUFHeader(version=version, tensor_count=tensors, metadata=metadata)


def read_model_header(path: Path) -> GGUFHeader:
    """``read_header`` of a file that must hold a model: a GGUF without tensors (a vocabulary-only
    file) is refused here too, with the message both the model host and ``ragls tune`` show."""
    header = read_header(path)
    if header.tensor_count == 0:
        raise GGUFHeaderError("it holds no weights (a vocabulary-only GGUF?)")
    return header


def available_memory_bytes() -> int | None:
    """MemAvailable (Linux), or None where it cannot be read (then nothing is refused)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def context_that_fits(requested: int, *, training: int | None, kv_bytes_per_token: int | None, available: int | None) -> tuple[int, list[str]]:
    """The context to create and warnings: never above the training context (attention beyond it
    is noise), and never a KV cache larger than half the memory available now (the rest is for
    the weights, the compute buffers and everything else the user runs)."""
    warnings: list[str] = []
    context = requested
    if training and 0 < training < context:
        warnings.append(f"model.contextSize {requested} is above the model's training context ({training}); using {training}")
        context = training
    if kv_bytes_per_token and available:
        fits = available // 2 // kv_bytes_per_token
        if fits < context:
            fitted = max(256, fits // 256 * 256)
            mb = context * kv_bytes_per_token / 2**20
            warnings.append(
                f"a context of {context} tokens needs a {mb:.0f} MB KV cache but only {available / 2**20:.0f} MB of memory "
                f"is available; using {fitted} tokens (lower model.contextSize to silence this)"
            )
            context = fitted
    return context, warnings
