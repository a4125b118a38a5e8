"""``ragls train-data``: the command line of :mod:`ragls.training.data`.

    ragls train-data --workspace DIR --out FILE.jsonl [--limit N] [--seed S] [--abstain-share 0.2]
                     [--passages K] [--focus-tokens N] [--force]

The workspace is indexed (incrementally, into the same cache folder ``ragls index`` uses, or
``--index-dir``) and every question is answered by real retrieval from that index. Progress and the
summary go to stderr; ``--json`` prints the summary as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ragls.core.prompting import FOCUS_TOKENS
from ragls.settings import ModelSettings, Settings


def add_train_data_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("train-data", help="supervised chat examples (cited answers, abstentions) from a workspace")
    p.add_argument("--workspace", required=True, metavar="DIR", help="the workspace to make questions from")
    p.add_argument("--out", required=True, metavar="FILE.jsonl", help="where to write the examples (JSON lines)")
    p.add_argument("--limit", type=int, metavar="N", help="write at most N examples (default: every question)")
    p.add_argument("--seed", type=int, default=0, help="order and wording of the questions (default 0)")
    p.add_argument("--abstain-share", type=float, default=0.2, metavar="F", help="share of abstention examples (default 0.2)")
    p.add_argument("--passages", type=int, default=Settings().retrieval.passages, metavar="K", help="passages retrieved per question (default 5, as ragls ask)")
    p.add_argument("--ctx-size", type=int, default=ModelSettings().context_size, help="context size the prompts are built for (default 4096)")
    p.add_argument("--max-tokens", type=int, default=ModelSettings().max_tokens, help="answer reserve the prompts leave (default 512)")
    p.add_argument(
        "--focus-tokens", type=int, default=FOCUS_TOKENS, metavar="N",
        help=f"each passage cut to its lines that address the question, at most N tokens, as the model host does (default {FOCUS_TOKENS}; 0: whole passages)",
    )
    p.add_argument("--index-dir", help="where the workspace's index lives (default: the user cache, as ragls index)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.set_defaults(func=run_train_data)
    return p


class _Bar:
    """``questions ███···  40% 400/1000 (312 written)`` on stderr; a line every 5 s when stderr is
    not a terminal (logs stay readable)."""

    def __init__(self, label: str, stream=sys.stderr) -> None:
        self.label = label
        self.stream = stream
        self.tty = stream.isatty()
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, total: int, note: str = "") -> None:
        now = time.monotonic()
        if done < total and now - self._last < (0.1 if self.tty else 5.0):
            return
        self._last = now
        fraction = done / max(total, 1)
        if self.tty:
            filled = int(30 * fraction)
            self.stream.write(f"\r{self.label} {'█' * filled}{'·' * (30 - filled)} {fraction:6.1%} {done}/{total}{note}")
            self.stream.flush()
            self._shown = True
        else:
            print(f"{self.label}: {done}/{total}{note}", file=self.stream)

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False


def _print_summary(summary, out: Path, wanted_share: float, stream=sys.stderr) -> None:
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(summary.by_kind.items()))
    print(f"{summary.written} examples written to {out} ({kinds}) in {summary.seconds:.1f} s", file=stream)
    print(f"{summary.considered} tries of {summary.candidates} questions", file=stream)
    share = summary.by_kind.get("abstain", 0) / max(summary.written, 1)
    if share + 1 / max(summary.written, 1) < wanted_share:
        print(
            f"abstentions: {share:.0%} of the examples, not the {wanted_share:.0%} asked for: the workspace has too few "
            "number, flag and definition questions to take answers away from",
            file=stream,
        )
    dropped = sum(summary.dropped.values())
    if dropped:
        print(f"dropped {dropped}:", file=stream)
        for reason, n in summary.dropped.most_common():
            print(f"  {n:6d}  {reason}", file=stream)


def run_train_data(args: argparse.Namespace) -> int:
    from ragls.answering import Answerer
    from ragls.index.workspace_index import WorkspaceIndex
    from ragls.training.data import TrainDataError, TrainDataOptions, generate

    root, out = Path(args.workspace), Path(args.out)
    try:
        options = TrainDataOptions(
            limit=args.limit, seed=args.seed, abstain_share=args.abstain_share, passages=args.passages,
            context_size=args.ctx_size, max_tokens=args.max_tokens, focus_tokens=args.focus_tokens or None,
        )
        if not root.is_dir():
            raise TrainDataError(f"workspace folder does not exist: {root}")
        if out.exists() and not args.force:
            raise TrainDataError(f"{out} exists; pass --force to replace it")
        if not out.parent.is_dir():
            raise TrainDataError(f"the folder of {out} does not exist")
    except TrainDataError as exc:
        print(f"ragls train-data: {exc}", file=sys.stderr)
        return 2
    settings = Settings()
    index = WorkspaceIndex(root, settings.index, index_dir=Path(args.index_dir) if args.index_dir else None)
    indexing, questions = _Bar("indexing"), _Bar("questions")
    try:
        for message in index.messages:
            print(f"ragls: {message}", file=sys.stderr)
        index.sync(progress=lambda p: indexing(p.done_files, p.total_files, " files"))
        indexing.close()
        answerer = Answerer(lambda: [index], settings)
        summary = generate(
            root, out, options,
            retrieve=lambda question, k: answerer.retrieve(question, passages=k),
            index_settings=settings.index, force=args.force,
            progress=lambda done, total, written: questions(done, total, f" ({written} written)"),
        )
    except TrainDataError as exc:
        print(f"ragls train-data: {exc}", file=sys.stderr)
        return 2
    finally:
        questions.close()
        index.close()
    _print_summary(summary, out, options.abstain_share)
    if args.json:
        print(json.dumps({"out": str(out), **summary.as_dict()}, indent=2))
    return 0


# --- ragls tune ------------------------------------------------------------------------------------

def add_tune_parser(sub) -> argparse.ArgumentParser:
    from ragls.training.tune import DEFAULT_TARGETS, TuneOptions

    defaults = TuneOptions()
    p = sub.add_parser(
        "tune", help="train a LoRA adapter (llama.cpp GGUF) on train-data examples (needs the tune extra)",
        description="Train a LoRA adapter for a GGUF model on ragls train-data examples and write it as a llama.cpp "
        "adapter GGUF (ragls ask --adapter, model.adapters). Needs torch, transformers and peft: pip install -e '.[tune]'.",
    )
    p.add_argument("--base", required=True, metavar="MODEL.gguf", help="the model to adapt (llama architecture, with a chat template)")
    p.add_argument("--data", required=True, metavar="FILE.jsonl", help="chat examples, as ragls train-data writes them")
    p.add_argument("--out", required=True, metavar="ADAPTER.gguf", help="where to write the adapter")
    p.add_argument("--rank", type=int, default=defaults.rank, help=f"LoRA rank (default {defaults.rank})")
    p.add_argument("--alpha", type=float, default=defaults.alpha, help=f"LoRA alpha; the update is scaled by alpha/rank (default {defaults.alpha:g})")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="optimiser steps (default: one epoch)")
    length.add_argument("--epochs", type=float, help="passes over the data (default 1)")
    p.add_argument("--lr", type=float, default=defaults.lr, help=f"peak learning rate (default {defaults.lr:g})")
    p.add_argument("--targets", default=",".join(DEFAULT_TARGETS), help=f"projections to adapt (default {','.join(DEFAULT_TARGETS)}; also ffn_gate, ffn_up, ffn_down)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="order of the examples and the LoRA's initial A (default 0)")
    p.add_argument("--max-length", type=int, default=defaults.max_length, help=f"skip examples longer than this many tokens (default {defaults.max_length})")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help=f"examples per step (default {defaults.batch_size})")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: every available core)")
    p.add_argument("--max-minutes", type=float, help="stop training after this many minutes and write the adapter of the steps done")
    p.add_argument("--gradient-checkpointing", action="store_true", help="less memory for longer examples, about a third slower")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.set_defaults(func=run_tune)
    return p


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def run_tune(args: argparse.Namespace) -> int:
    from ragls.training.tune import TuneError, TuneOptions, tune

    bar = _Bar("tune")
    try:
        options = TuneOptions(
            rank=args.rank, alpha=args.alpha, steps=args.steps, epochs=args.epochs, lr=args.lr, targets=args.targets,
            seed=args.seed, max_length=args.max_length, batch_size=args.batch_size, threads=args.threads,
            gradient_checkpointing=args.gradient_checkpointing, max_minutes=args.max_minutes,
        )
        result = tune(
            Path(args.base), Path(args.data), Path(args.out), options, force=args.force,
            progress=lambda step, total, loss, rate, left: bar(
                step, total, f" steps  loss {loss:.3f}  {rate:.0f} tokens/s  ETA {_duration(left)}"
            ),
        )
    except TuneError as exc:
        bar.close()
        print(f"ragls tune: {exc}", file=sys.stderr)
        return 2
    finally:
        bar.close()
    s = result.summary
    print(
        f"adapter written to {result.out}: {s.steps} steps ({s.epochs:.2f} epochs of {s.examples} examples), "
        f"loss {s.losses[0]:.3f} -> {s.losses[-1]:.3f}, {s.tokens} tokens in {_duration(s.seconds)} "
        f"({s.tokens_per_s:.0f} tokens/s, {s.device}, {s.threads} threads), peak RSS {s.peak_rss_mb:.0f} MB",
        file=sys.stderr,
    )
    if args.json:
        print(json.dumps({"out": str(result.out), **s.as_dict()}, indent=2))
    return 0
