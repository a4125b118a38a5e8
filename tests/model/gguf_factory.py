"""Generate llama-architecture GGUF models with random weights, and LoRA adapters for them.

No model can be downloaded in tests or CI, so tests (and ``benchmarks/bench_model.py``, with a
larger size) write their own: a real GGUF that llama.cpp loads, with a SentencePiece-style
vocabulary whose 256 byte tokens let any text round-trip, and a Jinja chat template so prompts go
through the same chat-template path as a real model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

# ChatML-style template that uses bos_token, like many real GGUFs.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Whole-word pieces so that prose tokenizes into fewer tokens than bytes (like a real vocabulary).
_WORDS = (
    "the of and to in is that for it as with was on be by this are or from at an not which have "
    "workspace passage question answer file line function class method config setting retry timeout "
    "server client index model adapter cover does covered value default returns error request "
    "response python code docs section module import return def self none true false"
).split()


@dataclass(frozen=True)
class ModelShape:
    embedding: int = 64
    blocks: int = 2
    feed_forward: int = 128
    heads: int = 4
    kv_heads: int = 2
    extra_pieces: int = 200  # vocabulary entries beyond specials, bytes and _WORDS
    context_length: int = 4096

    @property
    def head_dim(self) -> int:
        return self.embedding // self.heads


TINY = ModelShape()
# The shape of SmolLM2-135M-Instruct (30 layers, hidden 576, 9 heads, 3 KV heads x 64): adapters
# for the real model.
SMOLLM2 = ModelShape(embedding=576, blocks=30, feed_forward=1536, heads=9, kv_heads=3)
# Tens of millions of parameters, for the benchmark.
BENCH = ModelShape(embedding=512, blocks=8, feed_forward=1536, heads=8, kv_heads=4, extra_pieces=3000)


def vocabulary(shape: ModelShape) -> tuple[list[str], list[float], list[int]]:
    tokens = ["<unk>", "<s>", "</s>"]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    pieces: list[str] = []
    for word in _WORDS:
        pieces += ["\u2581" + word, word]
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    pieces += ["\u2581" + c for c in letters] + list(letters)
    pairs = [a + b for a in letters for b in letters]
    pieces += pairs[: max(0, shape.extra_pieces)]
    seen: set[str] = set()
    unique = [p for p in pieces if not (p in seen or seen.add(p))]
    tokens += unique
    types += [gguf.TokenType.NORMAL] * len(unique)
    # SentencePiece merges by score: longer pieces first.
    scores = [0.0] * (3 + 256) + [-float(i) / 10 - (10.0 - min(len(p), 10)) for i, p in enumerate(unique)]
    return tokens, scores, [int(t) for t in types]


def write_model(
    path: Path,
    shape: ModelShape = TINY,
    *,
    seed: int = 0,
    chat_template: str | None = CHAT_TEMPLATE,
    architecture: str = "llama",
    weights: bool = True,
) -> Path:
    """Write a llama GGUF with random F32 weights to ``path``. ``architecture`` another name: a
    model of an architecture llama.cpp lacks; ``weights=False``: a vocabulary-only GGUF."""
    rng = np.random.default_rng(seed)
    tokens, scores, types = vocabulary(shape)
    vocab = len(tokens)
    e, f, kv = shape.embedding, shape.feed_forward, shape.kv_heads * shape.head_dim
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_name("ragls-test-random")
    writer.add_context_length(shape.context_length)
    writer.add_embedding_length(e)
    writer.add_block_count(shape.blocks)
    writer.add_feed_forward_length(f)
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.kv_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(shape.head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(vocab)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    if chat_template:
        writer.add_chat_template(chat_template)

    def weight(*dims: int, scale: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(dims) * scale).astype(np.float32)

    if not weights:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.close()
        return path
    writer.add_tensor("token_embd.weight", weight(vocab, e, scale=1.0))
    writer.add_tensor("output_norm.weight", np.ones(e, dtype=np.float32))
    writer.add_tensor("output.weight", weight(vocab, e, scale=0.5))
    for i in range(shape.blocks):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(e, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", weight(e, e, scale=0.1))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weight(kv, e, scale=0.1))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weight(kv, e, scale=0.1))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weight(e, e, scale=0.1))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(e, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(f, e, scale=0.1))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(f, e, scale=0.1))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(e, f, scale=0.1))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_lora(
    path: Path,
    shape: ModelShape = TINY,
    *,
    seed: int = 1,
    rank: int = 4,
    alpha: float = 4.0,
    targets: tuple[str, ...] = ("attn_q", "attn_v", "ffn_up"),
    scale: float = 0.5,
) -> Path:
    """Write a LoRA adapter for a model of ``shape``; B is random (not zero) so it changes logits."""
    rng = np.random.default_rng(seed)
    e, f, kv = shape.embedding, shape.feed_forward, shape.kv_heads * shape.head_dim
    out_dims = {"attn_q": e, "attn_k": kv, "attn_v": kv, "attn_output": e, "ffn_gate": f, "ffn_up": f, "ffn_down": e}
    in_dims = {"attn_q": e, "attn_k": e, "attn_v": e, "attn_output": e, "ffn_gate": e, "ffn_up": e, "ffn_down": f}
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for i in range(shape.blocks):
        for target in targets:
            a = (rng.standard_normal((rank, in_dims[target])) * scale).astype(np.float32)
            b = (rng.standard_normal((out_dims[target], rank)) * scale).astype(np.float32)
            writer.add_tensor(f"blk.{i}.{target}.weight.lora_a", a)
            writer.add_tensor(f"blk.{i}.{target}.weight.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_mismatched_lora(path: Path) -> Path:
    """A LoRA adapter built for a model of another width: llama.cpp must refuse it."""
    other = ModelShape(embedding=32, feed_forward=64, heads=4, kv_heads=2)
    return write_lora(path, other, seed=7)


def write_not_gguf(path: Path) -> Path:
    path.write_bytes(b"this is not a GGUF file\n" * 100)
    return path


def write_truncated(model: Path, path: Path) -> Path:
    """A GGUF cut in half: valid magic and header, missing tensor data."""
    data = model.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
