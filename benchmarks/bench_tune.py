"""Fine-tuning benchmark: does a LoRA trained by ``ragls tune`` make SmolLM2's answers better?

One seeded run of the whole recipe, through the real command line:

1. ``ragls train-data`` on the k8s docs *without the gold pages of the evaluation's test split*
   (a copy of the workspace that leaves them out), with short prompts (``--ctx-size``,
   ``--passages``) so that a CPU can train on enough of them in the time budget;
2. ``ragls tune`` on those examples (``--threads``, ``--max-minutes``: the budget), which reports
   its loss curve, tokens/s and peak RSS;
3. the answer evaluation of ``ragls eval --answers`` (``evaluation/answers.py``: same questions,
   same scoring, answers through ``Answerer.ask``) on the full k8s docs, test split, a fixed subset
   (the first N answerable and the first M unanswerable questions): extractive, SmolLM2, SmolLM2 +
   the adapter, in one process. It is called here rather than through the command so that the
   model's context and passage count can be those the adapter was trained for (``--eval-ctx-size``,
   ``--eval-passages``; base and adapter get the same): on 2 shared cores SmolLM2 reads a
   4096-token prompt in about a minute, too slow for 80 answers.

Everything it writes (examples, adapter, eval JSON, a summary) goes to ``--work`` (a temporary
folder by default); nothing is committed. The numbers are in docs/FINE-TUNING.md.

Usage:
  .venv/bin/python benchmarks/bench_tune.py --model ~/.cache/ragls-models/SmolLM2-135M-Instruct.Q4_1.gguf \\
      [--examples 400] [--steps 200] [--max-minutes 18] [--threads 1] [--answerable 30] [--unanswerable 10]
      [--skip-training]   # evaluate the adapter a previous run left in --work
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT.parent / "shared" / "eval" / "k8s-docs"
QUESTIONS = ROOT / "benchmarks" / "data" / "k8s-answers.jsonl"


def ragls(*args: str, stdout=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "server") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [sys.executable, "-m", "ragls", *args]
    print("$ ragls " + " ".join(args), file=sys.stderr, flush=True)
    return subprocess.run(command, env=env, check=True, stdout=stdout, text=True)


def test_questions(answerable: int, unanswerable: int) -> tuple[list[dict], set[str]]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    test = [r for r in rows if r.get("split") == "test"]
    chosen = [r for r in test if not r.get("unanswerable")][:answerable] + [r for r in test if r.get("unanswerable")][:unanswerable]
    # Every test question's gold page stays out of training, not only the chosen ones'.
    held_out = {g["path"] for r in test for g in r.get("gold", [])}
    return chosen, held_out


def training_workspace(dest: Path, held_out: set[str]) -> int:
    """A copy of the k8s docs without ``held_out`` pages; returns how many pages it has."""
    count = 0
    for source in sorted((K8S / "docs").rglob("*")):
        rel = source.relative_to(K8S).as_posix()
        if not source.is_file() or rel in held_out:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        count += 1
    return count


def evaluate(model: Path, adapter: Path, question_file: Path, work: Path, *, ctx_size: int, passages: int, max_tokens: int) -> tuple[dict, str]:
    sys.path.insert(0, str(ROOT / "server"))
    import dataclasses
    import logging

    from ragls.answering import Answerer
    from ragls.core.requests import AnswerHooks, AnswerRequest
    from ragls.evaluation.answers import Progress, file_reader, format_table, load_answer_questions, run_config, to_json
    from ragls.evaluation.workspace_eval import WorkspaceEval
    from ragls.model.host import ModelHost
    from ragls.settings import AdapterSpec, ModelSettings, Settings

    questions = load_answer_questions(question_file, "test")
    target = WorkspaceEval(K8S, index_dir=work / "eval-index")
    read_lines = file_reader(K8S)
    progress = Progress(len(questions))
    model_settings = ModelSettings(
        path=str(model), context_size=ctx_size, max_tokens=max_tokens, adapters=(AdapterSpec("tuned", str(adapter)),)
    )
    settings = Settings(model=model_settings)
    settings = dataclasses.replace(settings, retrieval=dataclasses.replace(settings.retrieval, passages=passages))
    host = ModelHost(model_settings, logging.getLogger("ragls.bench"))
    try:
        index = target.index
        extractive = Answerer(lambda: [index], Settings())
        summaries = [run_config("extractive", questions, lambda q, d: extractive.ask(AnswerRequest(q), AnswerHooks(on_delta=d)), read_lines, progress=progress)]
        host.start()
        host.wait_ready(300)
        status = host.status()
        if status.state != "ready" or [a.name for a in status.adapters] != ["tuned"]:
            raise SystemExit(f"model or adapter not usable: {status}")
        modelled = Answerer(lambda: [index], settings, model=host)
        for name, chosen in (("model", []), ("model+tuned", [("tuned", 1.0)])):
            summaries.append(
                run_config(name, questions, lambda q, d, chosen=chosen: modelled.ask(AnswerRequest(q, adapters=chosen), AnswerHooks(on_delta=d)), read_lines, progress=progress)
            )
    finally:
        host.close()
        target.close()
    return to_json(summaries, per_query=True), format_table(summaries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="SmolLM2-135M-Instruct GGUF (or another llama GGUF with a chat template)")
    parser.add_argument("--work", help="folder for the examples, adapter and results (default: a temporary one)")
    parser.add_argument("--examples", type=int, default=400)
    parser.add_argument("--ctx-size", type=int, default=1024, help="context the training prompts are built for")
    parser.add_argument("--passages", type=int, default=3)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--max-minutes", type=float, default=18.0)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--answerable", type=int, default=30)
    parser.add_argument("--unanswerable", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-ctx-size", type=int, default=1024, help="the model's context in the evaluation (base and adapter)")
    parser.add_argument("--eval-passages", type=int, default=3)
    parser.add_argument("--eval-max-tokens", type=int, default=256)
    parser.add_argument("--skip-training", action="store_true", help="evaluate the adapter and summary a previous run left in --work")
    args = parser.parse_args()

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="ragls-bench-tune-"))
    work.mkdir(parents=True, exist_ok=True)
    summary: dict = {"work": str(work), "options": vars(args)}

    questions, held_out = test_questions(args.answerable, args.unanswerable)
    question_file = work / "questions.jsonl"
    question_file.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    workspace = work / "k8s-train"
    if not workspace.exists():
        summary["trainingPages"] = training_workspace(workspace, held_out)
    summary["heldOutPages"] = len(held_out)

    data = work / "train.jsonl"
    adapter = work / "k8s-behaviour.gguf"
    if args.skip_training:
        previous = json.loads((work / "summary.json").read_text(encoding="utf-8"))
        summary.update({k: previous[k] for k in ("trainingPages", "trainDataSeconds", "tune") if k in previous})
    else:
        started = time.perf_counter()
        ragls(
            "train-data", "--workspace", str(workspace), "--out", str(data), "--limit", str(args.examples),
            "--seed", str(args.seed), "--ctx-size", str(args.ctx_size), "--max-tokens", "256",
            "--passages", str(args.passages), "--index-dir", str(work / "train-index"), "--force",
        )
        summary["trainDataSeconds"] = round(time.perf_counter() - started, 1)
        tuned = ragls(
            "tune", "--base", args.model, "--data", str(data), "--out", str(adapter), "--steps", str(args.steps),
            "--max-minutes", str(args.max_minutes), "--lr", str(args.lr), "--rank", str(args.rank),
            "--threads", str(args.threads), "--max-length", str(args.max_length), "--seed", str(args.seed), "--force", "--json",
            stdout=subprocess.PIPE,
        )
        summary["tune"] = json.loads(tuned.stdout)
        (work / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")

    started = time.perf_counter()
    summary["eval"], table = evaluate(
        Path(args.model), adapter, question_file, work,
        ctx_size=args.eval_ctx_size, passages=args.eval_passages, max_tokens=args.eval_max_tokens,
    )
    summary["evalSeconds"] = round(time.perf_counter() - started, 1)
    (work / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
