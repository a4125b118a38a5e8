"""``ragls tune``: a LoRA adapter for a GGUF model, trained on ``ragls train-data`` examples.

The base model is read from its GGUF by ``transformers`` (dequantised to float32), ``peft`` adds the
LoRA, ``torch`` trains it (on the GPU when torch sees one, else on the CPU), and
:mod:`ragls.training.lora_gguf` writes the adapter in the form llama.cpp loads — so ``ragls ask
--adapter`` and the server use it like any other.

Each example is rendered with the model's own chat template (the one llama.cpp applies when ragls
asks it), and the loss counts only the assistant's turn: the model learns to answer ragls's prompts
(copy the fact, cite its passage, stop, or decline), not to write prompts.

torch, transformers and peft are an optional extra (``pip install -e '.[tune]'``): they are imported
only inside the functions that need them, so ``ragls`` without them stays light and says what to
install.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import random
import re
import resource
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ragls.training.lora_gguf import HF_TO_LLAMA, LLAMA_TARGETS, LoraPair, write_lora_gguf

INSTALL_HINT = "pip install -e '.[tune]'"
REQUIRED = ("torch", "transformers", "peft", "gguf")
# Architectures whose GGUF transformers reads *and* whose tensor names and q/k row order
# lora_gguf writes (llama: Llama, SmolLM, TinyLlama, Mistral-style llama GGUFs).
SUPPORTED_ARCHITECTURES = ("llama",)
DEFAULT_TARGETS = ("attn_q", "attn_k", "attn_v", "attn_output")

_PASSAGE_ID = re.compile(r"^\[(\d+)\] ", re.MULTILINE)
_CITATION = re.compile(r"\[(\d+)\]")


class TuneError(ValueError):
    """Bad input for tune: said to the user as it is, with rc 2."""


def missing_libraries() -> list[str]:
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def require_libraries() -> None:
    missing = missing_libraries()
    if missing:
        raise TuneError(
            f"ragls tune needs {', '.join(missing)} (not installed): {INSTALL_HINT} "
            "(torch, transformers, peft and gguf; see docs/FINE-TUNING.md)"
        )


def parse_targets(raw: str | Sequence[str]) -> tuple[str, ...]:
    """``attn_q,attn_v`` or Hugging Face names (``q_proj``) -> llama.cpp target names."""
    names = [t.strip() for t in (raw.split(",") if isinstance(raw, str) else raw) if t.strip()]
    targets = []
    for name in names:
        target = HF_TO_LLAMA.get(name, name)
        if target not in LLAMA_TARGETS:
            raise TuneError(f"unknown LoRA target {name!r}: use some of {', '.join(LLAMA_TARGETS)}")
        if target not in targets:
            targets.append(target)
    if not targets:
        raise TuneError("--targets names no projection")
    return tuple(targets)


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class TuneOptions:
    rank: int = 8
    alpha: float = 16.0
    steps: int | None = None  # optimiser steps; None: --epochs
    epochs: float | None = None  # passes over the data; None with steps None: one
    lr: float = 1e-3
    targets: tuple[str, ...] = DEFAULT_TARGETS
    seed: int = 0
    max_length: int = 1024  # tokens; longer examples are skipped (counted), never cut
    batch_size: int = 1
    threads: int | None = None  # CPU threads; None: every available core
    gradient_checkpointing: bool = False
    max_minutes: float | None = None  # stop training then (the adapter holds the steps done)

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise TuneError(f"--rank must be at least 1 (got {self.rank})")
        if not self.alpha > 0:
            raise TuneError(f"--alpha must be positive (got {self.alpha})")
        if self.steps is not None and self.epochs is not None:
            raise TuneError("give --steps or --epochs, not both")
        if self.steps is not None and self.steps < 1:
            raise TuneError(f"--steps must be at least 1 (got {self.steps})")
        if self.epochs is not None and not self.epochs > 0:
            raise TuneError(f"--epochs must be positive (got {self.epochs})")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise TuneError(f"--lr must be a positive number (got {self.lr})")
        if self.max_length < 16:
            raise TuneError(f"--max-length must be at least 16 tokens (got {self.max_length})")
        if not 1 <= self.batch_size <= 64:
            raise TuneError(f"--batch-size must be in 1..64 (got {self.batch_size})")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise TuneError(f"--max-minutes must be positive (got {self.max_minutes})")
        if self.threads is not None and self.threads < 1:
            raise TuneError(f"--threads must be at least 1 (got {self.threads})")
        object.__setattr__(self, "targets", parse_targets(self.targets))


@dataclass(slots=True)
class TuneSummary:
    examples: int = 0  # usable examples read
    planned_steps: int = 0
    stopped_at_time_limit: bool = False
    skipped_too_long: int = 0
    steps: int = 0
    epochs: float = 0.0
    tokens: int = 0  # tokens read by the model (prompts and answers)
    answer_tokens: int = 0  # tokens the loss counted
    seconds: float = 0.0  # training only
    load_seconds: float = 0.0
    losses: list[float] = field(default_factory=list)  # one per step
    trainable_parameters: int = 0
    peak_rss_mb: float = 0.0
    device: str = "cpu"
    threads: int = 0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "skippedTooLong": self.skipped_too_long,
            "steps": self.steps,
            "plannedSteps": self.planned_steps,
            "stoppedAtTimeLimit": self.stopped_at_time_limit,
            "epochs": round(self.epochs, 3),
            "tokens": self.tokens,
            "answerTokens": self.answer_tokens,
            "seconds": round(self.seconds, 2),
            "loadSeconds": round(self.load_seconds, 2),
            "tokensPerSecond": round(self.tokens_per_s, 1),
            "firstLoss": round(self.losses[0], 4) if self.losses else None,
            "lastLoss": round(self.losses[-1], 4) if self.losses else None,
            "losses": [round(x, 4) for x in self.losses],
            "trainableParameters": self.trainable_parameters,
            "peakRssMb": round(self.peak_rss_mb, 1),
            "device": self.device,
            "threads": self.threads,
        }


@dataclass(slots=True)
class TuneResult:
    summary: TuneSummary
    out: Path
    model: Any = None  # the trained PEFT model, when asked for (keep_model=True)
    tokenizer: Any = None


# Progress: (step, total steps, loss of this step, tokens per second, seconds left).
Progress = Callable[[int, int, float, float, float], None]


# --- input ---------------------------------------------------------------------------------------

def load_examples(path: Path) -> list[list[dict[str, str]]]:
    """The chat examples of a ``train-data`` file; a line that is not one is an error naming it.

    Each needs ``messages``: role/content strings ending in the assistant's turn, and every ``[n]``
    of that turn must name a passage its prompt shows (``[n] path:lines`` headers): an adapter
    trained on citations of passages that are not there learns to invent them.
    """
    path = Path(path)
    if not path.is_file():
        raise TuneError(f"data file not found: {path}" if not path.exists() else f"{path} is not a file")
    examples = []
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TuneError(f"{where} is not JSON: {exc.msg}") from None
            messages = record.get("messages") if isinstance(record, dict) else None
            if not isinstance(messages, list) or len(messages) < 2 or not all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in messages
            ):
                raise TuneError(f"{where}: expected {{\"messages\": [{{\"role\": …, \"content\": …}}, …]}} (as ragls train-data writes)")
            if messages[-1]["role"] != "assistant":
                raise TuneError(f"{where}: the last message must be the assistant's answer (role 'assistant')")
            shown = {int(n) for m in messages[:-1] if m["role"] == "user" for n in _PASSAGE_ID.findall(m["content"])}
            cited = {int(n) for n in _CITATION.findall(messages[-1]["content"])}
            invalid = sorted(cited - shown)
            if invalid:
                raise TuneError(
                    f"{where}: the answer cites {', '.join(f'[{n}]' for n in invalid)}, which its prompt does not show "
                    f"(passages: {', '.join(f'[{n}]' for n in sorted(shown)) or 'none'})"
                )
            examples.append([{"role": m["role"], "content": m["content"]} for m in messages])
    if not examples:
        raise TuneError(f"{path} holds no examples: make some with ragls train-data")
    return examples


def check_base(path: Path):
    """The base GGUF's header, refused early with a clear reason (before transformers reads it)."""
    from ragls.model.gguf_header import GGUFHeaderError, read_model_header

    path = Path(path)
    if not path.is_file():
        raise TuneError(f"base model not found: {path}" if not path.exists() else f"{path} is not a file")
    try:
        header = read_model_header(path)
    except GGUFHeaderError as exc:
        raise TuneError(f"{path.name} is not a usable GGUF model: {exc}") from None
    architecture = header.architecture or "unknown"
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise TuneError(
            f"{path.name} is a '{architecture}' model; ragls tune trains adapters for "
            f"{', '.join(SUPPORTED_ARCHITECTURES)}-architecture GGUFs (SmolLM2, Llama, TinyLlama, …)"
        )
    return header


def check_out(out: Path, force: bool) -> None:
    out = Path(out)
    if out.exists() and out.is_dir():
        raise TuneError(f"{out} is a directory")
    if out.exists() and not force:
        raise TuneError(f"{out} exists; pass --force to replace it")
    if not out.parent.is_dir():
        raise TuneError(f"the folder of {out} does not exist")


# --- tokens --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Tokenized:
    input_ids: list[int]
    labels: list[int]  # -100 on the prompt: the loss counts the answer only


def tokenize_example(tokenizer, messages: list[dict[str, str]]) -> Tokenized:
    """The example as the chat template renders it: prompt (with the generation prompt) + answer,
    which ends at the template's end-of-turn token (the model learns to stop there)."""
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        # A template that renders earlier turns differently once an answer follows: the answer's
        # text is what the full rendering adds after the prompt's.
        raise TuneError("the model's chat template renders the prompt differently when an answer follows; cannot tell the answer's tokens apart")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(full[len(prompt):], add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    if eos is not None and eos in answer_ids:
        answer_ids = answer_ids[: answer_ids.index(eos) + 1]  # not the newline the template adds after
    return Tokenized(input_ids=prompt_ids + answer_ids, labels=[-100] * len(prompt_ids) + answer_ids)


# --- training ------------------------------------------------------------------------------------

def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_base(base: Path):
    """(model, tokenizer) from a GGUF with transformers (float32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    base = Path(base)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(base.parent), gguf_file=base.name)
        model = AutoModelForCausalLM.from_pretrained(str(base.parent), gguf_file=base.name, dtype=torch.float32)
    except Exception as exc:  # transformers raises many kinds for a GGUF it cannot map
        raise TuneError(f"transformers {_version('transformers')} could not read {base.name}: {exc}") from None
    if not tokenizer.chat_template:
        raise TuneError(f"{base.name} has no chat template: tune an instruction-tuned model (its answers follow the template)")
    return model, tokenizer


def _version(name: str) -> str:
    try:
        return __import__(name).__version__
    except Exception:
        return "?"


def _batches(items: list[Tokenized], batch_size: int, total_steps: int, rng: random.Random):
    """``total_steps`` batches: the examples shuffled anew for each pass."""
    order: list[int] = []
    for _ in range(total_steps):
        batch = []
        while len(batch) < batch_size:
            if not order:
                order = list(range(len(items)))
                rng.shuffle(order)
            batch.append(items[order.pop()])
        yield batch


def _collate(batch: list[Tokenized], pad_id: int, device):
    """Left-padded tensors: every answer ends at the last column, so the logits are needed only
    for the last columns (``logits_to_keep``); with a 49k vocabulary the output layer over the whole
    prompt would cost a fifth of the compute and most of the activation memory."""
    import torch

    width = max(len(t.input_ids) for t in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, t in enumerate(batch):
        n = len(t.input_ids)
        ids[row, width - n:] = torch.tensor(t.input_ids)
        labels[row, width - n:] = torch.tensor(t.labels)
        mask[row, width - n:] = 1
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device), labels.to(device)


def _answer_loss(model, ids, mask, positions, labels):
    """Mean cross-entropy of the answer tokens (each predicted from the token before it)."""
    import torch

    answer_columns = (labels != -100).any(dim=0).nonzero()
    first = int(answer_columns[0])
    keep = ids.shape[1] - first + 1  # from the column that predicts the first answer token
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep).logits
    targets = labels[:, ids.shape[1] - keep + 1:]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=-100
    )


def _lr_at(step: int, total: int, lr: float) -> float:
    """A short linear warm-up (6% of the steps), then linear decay to a tenth."""
    warmup = int(0.06 * total)
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    progress = (step - warmup) / max(1, total - warmup)
    return lr * (1.0 - 0.9 * progress)


def lora_pairs(model) -> dict[tuple[int, str], LoraPair]:
    """The trained A and B of every adapted projection, keyed by (block, llama target)."""
    pattern = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)$")
    pairs = {}
    for name, module in model.named_modules():
        match = pattern.search(name)
        if not match or not hasattr(module, "lora_A") or "default" not in getattr(module, "lora_A", {}):
            continue
        target = HF_TO_LLAMA.get(match.group(2))
        if target is None:
            continue
        a = module.lora_A["default"].weight.detach().float().cpu().numpy()
        b = module.lora_B["default"].weight.detach().float().cpu().numpy()
        pairs[(int(match.group(1)), target)] = LoraPair(a=a, b=b)
    return pairs


def tune(
    base: Path,
    data: Path,
    out: Path,
    options: TuneOptions = TuneOptions(),
    *,
    force: bool = False,
    progress: Progress | None = None,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
    keep_model: bool = False,
) -> TuneResult:
    """Train a LoRA on ``data`` for ``base`` and write it to ``out`` (only at the end, atomically:
    an interrupted run leaves no adapter and no half-written file)."""
    base, data, out = Path(base), Path(data), Path(out)
    require_libraries()
    check_out(out, force)
    check_base(base)
    examples = load_examples(data)

    import torch
    from peft import LoraConfig, get_peft_model

    summary = TuneSummary()
    threads = options.threads or available_cores()
    torch.set_num_threads(threads)
    torch.manual_seed(options.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    summary.device, summary.threads = device.type, threads

    started = time.perf_counter()
    log(f"loading {base.name} with transformers (dequantised to float32) …")
    model, tokenizer = load_base(base)
    if model.config.model_type != "llama":
        raise TuneError(f"{base.name} loads as a '{model.config.model_type}' model; ragls tune writes llama adapters only")
    tokenized = []
    for messages in examples:
        item = tokenize_example(tokenizer, messages)
        if len(item.input_ids) > options.max_length:
            summary.skipped_too_long += 1
        elif any(label != -100 for label in item.labels):
            tokenized.append(item)
    if not tokenized:
        raise TuneError(
            f"every one of the {len(examples)} examples is longer than --max-length {options.max_length} tokens: "
            "raise --max-length, or make shorter prompts (ragls train-data --ctx-size 1024 --passages 3)"
        )
    summary.examples = len(tokenized)
    per_epoch = math.ceil(len(tokenized) / options.batch_size)
    total_steps = options.steps or max(1, round((options.epochs or 1.0) * per_epoch))
    summary.planned_steps = total_steps

    config = LoraConfig(
        r=options.rank,
        lora_alpha=options.alpha,
        target_modules=[LLAMA_TARGETS[t] for t in options.targets],
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():  # peft asks a transformers property deprecated in 5.x: not the user's concern
        warnings.filterwarnings("ignore", category=FutureWarning)
        model = get_peft_model(model, config)
    if options.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    model.to(device)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    summary.trainable_parameters = sum(p.numel() for p in trainable)
    optimizer = torch.optim.AdamW(trainable, lr=options.lr, weight_decay=0.0)
    summary.load_seconds = time.perf_counter() - started
    log(
        f"{summary.examples} examples ({summary.skipped_too_long} longer than {options.max_length} tokens skipped), "
        f"{total_steps} steps of {options.batch_size}, LoRA rank {options.rank} on {', '.join(options.targets)} "
        f"({summary.trainable_parameters / 1e6:.2f} M trainable), {device.type}, {threads} threads"
    )

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    rng = random.Random(options.seed)
    train_started = time.perf_counter()
    for step, batch in enumerate(_batches(tokenized, options.batch_size, total_steps, rng)):
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, total_steps, options.lr)
        ids, mask, positions, labels = _collate(batch, pad_id, device)
        loss = _answer_loss(model, ids, mask, positions, labels)
        if not torch.isfinite(loss):
            raise TuneError(f"the loss became {loss.item()} at step {step + 1}: lower --lr (now {options.lr:g})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        summary.steps = step + 1
        summary.losses.append(float(loss.item()))
        summary.tokens += int(mask.sum().item())
        summary.answer_tokens += int((labels != -100).sum().item())
        summary.seconds = time.perf_counter() - train_started
        if progress is not None:
            left = summary.seconds / summary.steps * (total_steps - summary.steps)
            progress(summary.steps, total_steps, summary.losses[-1], summary.tokens_per_s, left)
        if options.max_minutes is not None and summary.seconds >= 60 * options.max_minutes and summary.steps < total_steps:
            summary.stopped_at_time_limit = True
            log(f"\n--max-minutes {options.max_minutes:g} reached after {summary.steps} of {total_steps} steps: writing the adapter")
            break
    summary.epochs = summary.steps * options.batch_size / len(tokenized)

    model.eval()
    pairs = lora_pairs(model)
    if not pairs:
        raise TuneError("peft adapted no projection (targets not found in the model)")
    write_lora_gguf(
        out,
        pairs,
        alpha=options.alpha,
        heads=int(model.config.num_attention_heads),
        kv_heads=int(model.config.num_key_value_heads or model.config.num_attention_heads),
        name=f"ragls-lora-{base.stem}",
        metadata={"ragls.tune.base": base.name, "ragls.tune.data": data.name},
    )
    summary.peak_rss_mb = _peak_rss_mb()
    return TuneResult(summary=summary, out=out, model=model if keep_model else None, tokenizer=tokenizer if keep_model else None)
