"""Writing a LoRA adapter as llama.cpp loads it (``convert_lora_to_gguf.py``'s conventions).

The file is a GGUF with ``general.type = "adapter"``, ``adapter.type = "lora"``,
``adapter.lora.alpha`` and, per adapted weight ``blk.{i}.{target}.weight``, two F32 tensors:
``….weight.lora_a`` of shape (rank, in) and ``….weight.lora_b`` of shape (out, rank) (row-major, as
PyTorch holds them; GGUF lists the dimensions the other way round). llama.cpp adds
``scale * alpha / rank * B @ A`` to the weight, exactly PEFT's ``lora_alpha / r`` scaling.

Hugging Face and llama.cpp order the rows of the query and key projections differently (rotary
halves vs. interleaved pairs): ``convert_hf_to_gguf.py`` permutes them on the way to GGUF and
``transformers`` undoes that when it loads a GGUF. A delta trained against the Hugging Face layout
must be permuted the same way before llama.cpp sees it; only B's rows (the output rows) move.

Needs numpy and ``gguf`` (the ``tune`` extra), no torch.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:  # numpy is imported where arrays are made: the CLI starts without it
    import numpy as np

# llama.cpp tensor names of the projections a LoRA can adapt, and their Hugging Face module names.
LLAMA_TARGETS = {
    "attn_q": "q_proj",
    "attn_k": "k_proj",
    "attn_v": "v_proj",
    "attn_output": "o_proj",
    "ffn_gate": "gate_proj",
    "ffn_up": "up_proj",
    "ffn_down": "down_proj",
}
HF_TO_LLAMA = {hf: name for name, hf in LLAMA_TARGETS.items()}


@dataclass(frozen=True, slots=True)
class LoraPair:
    a: np.ndarray  # (rank, in)
    b: np.ndarray  # (out, rank), Hugging Face row order


def permute_rows(weights: np.ndarray, heads: int) -> np.ndarray:
    """``convert_hf_to_gguf.LlamaModel.permute``: each head's rows from rotary halves to pairs.
    ``heads`` is the attention head count for the query, the KV head count for the key."""
    rows = weights.shape[0]
    if rows % (2 * heads):
        raise ValueError(f"{rows} rows cannot be split into {heads} heads of rotary pairs")
    return weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def to_llama_layout(target: str, b: np.ndarray, *, heads: int, kv_heads: int) -> np.ndarray:
    if target == "attn_q":
        return permute_rows(b, heads)
    if target == "attn_k":
        return permute_rows(b, kv_heads)
    return b


def write_lora_gguf(
    out: Path,
    pairs: Mapping[tuple[int, str], LoraPair],
    *,
    alpha: float,
    heads: int,
    kv_heads: int,
    name: str = "ragls-lora",
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``pairs`` (keyed by (block, llama target)) to ``out`` atomically: a temporary file in
    the same folder, renamed at the end, so an interrupted write leaves no half-written adapter."""
    import gguf
    import numpy as np

    out = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, "llama")
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_name(name)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
        for key, value in (metadata or {}).items():
            writer.add_string(key, value)
        for (block, target), pair in sorted(pairs.items()):
            if target not in LLAMA_TARGETS:
                raise ValueError(f"unknown LoRA target {target!r}")
            a = np.ascontiguousarray(pair.a, dtype=np.float32)
            b = np.ascontiguousarray(to_llama_layout(target, pair.b, heads=heads, kv_heads=kv_heads), dtype=np.float32)
            if a.shape[0] != b.shape[1]:
                raise ValueError(f"blk.{block}.{target}: A has rank {a.shape[0]}, B {b.shape[1]}")
            writer.add_tensor(f"blk.{block}.{target}.weight.lora_a", a)
            writer.add_tensor(f"blk.{block}.{target}.weight.lora_b", b)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
