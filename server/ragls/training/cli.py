"""``ragls train-data``: the command line of :mod:`ragls.training.data`.

    ragls train-data --workspace DIR --out FILE.jsonl [--limit N] [--seed S] [--abstain-share 0.2]
                     [--passages K] [--force]

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
            context_size=args.ctx_size, max_tokens=args.max_tokens,
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
