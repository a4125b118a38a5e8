"""Fine-tuning benchmark: does a LoRA trained by ``ragls tune`` make SmolLM2's answers better?

One seeded run of the whole recipe, through the real command line:

1. ``ragls train-data`` on workspaces that are *not* the evaluation's (the k8s docs), copied into
   ``--work`` so that the run does not depend on what else lies next to them:

   - ``ragls``: this repository's sources, README and docs, less the three pages that describe the
     k8s evaluation (BENCHMARKS, EVALUATION, FINE-TUNING quote its questions);
   - ``stdlib``: the Python standard library's sources (``sysconfig``'s ``stdlib`` path, without
     its tests, IDLE, tkinter, lib2to3 and other bundles);
   - ``docs``: the Markdown and reST pages under ``/usr/share/doc`` (package documentation; on a
     Debian/Ubuntu machine with Node.js, its API reference) — skipped where there are none.

   Each with ``--limit`` (``--examples ragls=all,stdlib=120,docs=300``), ``--abstain-share`` and the
   prompt shape of the evaluation: context ``--ctx-size``, answer reserve ``--max-tokens``, K
   retrieved passages, focused as the model host focuses them. The files are concatenated in that
   order (``ragls tune`` shuffles them with its seed).
2. ``ragls tune`` on them (``--epochs`` or ``--steps``, ``--lr``, ``--threads``, ``--max-minutes``:
   the budget), which reports its loss curve, tokens/s and peak RSS.
3. the answer evaluation of ``ragls eval --answers`` (``evaluation/answers.py``: same questions,
   same scoring, answers through ``Answerer.ask``) on the full k8s docs, test split, a fixed subset
   (the first N answerable and the first M unanswerable questions), in one process: extractive,
   then SmolLM2 and SmolLM2 + the adapter at each ``--scales`` with the grounded guard on (the
   default), then SmolLM2 and SmolLM2 + the adapter at the first scale with it off (the model's raw
   text), and adapter scale 0 on the first ``--scale-zero`` questions, whose answers must be the
   base model's word for word. The model runs with a fixed seed, so every configuration is
   reproducible. It is called here rather than through the command so that the model's context
   can be the one the adapter was trained for (``--ctx-size``; base and adapter get the same).

Everything it writes (workspaces, examples, adapter, eval JSON, a summary) goes to ``--work`` (a
temporary folder by default); nothing is committed. The numbers are in docs/FINE-TUNING.md.

Usage:
  .venv/bin/python benchmarks/bench_tune.py --model ~/.cache/ragls-models/SmolLM2-135M-Instruct.Q4_1.gguf \\
      [--work DIR] [--examples ragls=all,stdlib=120,docs=300] [--abstain-share 0.05] [--epochs 1] [--lr 1e-3]
      [--max-minutes 18] [--threads 2] [--answerable 30] [--unanswerable 10] [--scales 1.0]
      [--skip-training]   # evaluate the adapter a previous run left in --work
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT.parent / "shared" / "eval" / "k8s-docs"
QUESTIONS = ROOT / "benchmarks" / "data" / "k8s-answers.jsonl"
SYSTEM_DOCS = Path("/usr/share/doc")
# Pages of this repository that describe (and quote) the k8s evaluation: never trained on.
EVALUATION_PAGES = {"docs/BENCHMARKS.md", "docs/EVALUATION.md", "docs/FINE-TUNING.md"}
STDLIB_SKIP = {
    "test", "tests", "idlelib", "lib2to3", "tkinter", "turtledemo", "ensurepip", "site-packages",
    "dist-packages", "pydoc_data", "__pycache__",
}
FALLBACK = "answered from the passages instead"


def ragls(*args: str, stdout=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "server") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [sys.executable, "-m", "ragls", *args]
    print("$ ragls " + " ".join(args), file=sys.stderr, flush=True)
    return subprocess.run(command, env=env, check=True, stdout=stdout, text=True)


def test_questions(answerable: int, unanswerable: int) -> list[dict]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    test = [r for r in rows if r.get("split") == "test"]
    return [r for r in test if not r.get("unanswerable")][:answerable] + [r for r in test if r.get("unanswerable")][:unanswerable]


def _copy(files, source_root: Path, dest: Path) -> int:
    count = 0
    for source in files:
        target = dest / source.relative_to(source_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        count += 1
    return count


def ragls_workspace(dest: Path) -> int:
    files = [p for p in sorted((ROOT / "server" / "ragls").rglob("*.py")) if "__pycache__" not in p.parts]
    files += [p for p in sorted((ROOT / "docs").glob("*.md")) if p.relative_to(ROOT).as_posix() not in EVALUATION_PAGES]
    files += [ROOT / "README.md", ROOT / "server" / "ARCHITECTURE.md"]
    return _copy([p for p in files if p.is_file()], ROOT, dest)


def stdlib_workspace(dest: Path) -> int:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = [
        p for p in sorted(stdlib.rglob("*.py"))
        if not (set(p.relative_to(stdlib).parts[:-1]) & STDLIB_SKIP) and not p.name.startswith("test_")
    ]
    return _copy(files, stdlib, dest)


def docs_workspace(dest: Path) -> int:
    if not SYSTEM_DOCS.is_dir():
        return 0
    files = [p for p in sorted(SYSTEM_DOCS.rglob("*")) if p.suffix in (".md", ".rst") and p.is_file() and p.stat().st_size >= 1024]
    return _copy(files, SYSTEM_DOCS, dest)


WORKSPACES = {"ragls": ragls_workspace, "stdlib": stdlib_workspace, "docs": docs_workspace}


def parse_examples(raw: str) -> dict[str, int | None]:
    limits: dict[str, int | None] = {}
    for part in raw.split(","):
        name, _, value = part.partition("=")
        if name not in WORKSPACES:
            raise SystemExit(f"--examples: unknown workspace {name!r} (use {', '.join(WORKSPACES)})")
        limits[name] = None if value in ("", "all") else int(value)
    return limits


def make_training_data(args, work: Path, summary: dict) -> Path:
    data = work / "train.jsonl"
    parts = []
    summary["trainData"] = {}
    for name, limit in parse_examples(args.examples).items():
        workspace = work / f"ws-{name}"
        if not workspace.exists():
            files = WORKSPACES[name](workspace)
            if files == 0:
                print(f"bench_tune: no {name} workspace on this machine; skipped", file=sys.stderr)
                continue
        out = work / f"train-{name}.jsonl"
        command = [
            "train-data", "--workspace", str(workspace), "--out", str(out), "--seed", str(args.seed),
            "--abstain-share", str(args.abstain_share), "--ctx-size", str(args.ctx_size), "--max-tokens", str(args.max_tokens),
            "--passages", str(args.passages), "--index-dir", str(work / f"idx-{name}"), "--force", "--json",
        ]
        if limit is not None:
            command += ["--limit", str(limit)]
        made = ragls(*command, stdout=subprocess.PIPE)
        summary["trainData"][name] = json.loads(made.stdout)
        parts.append(out.read_text(encoding="utf-8"))
    data.write_text("".join(parts), encoding="utf-8")
    return data


def evaluate(args, adapter: Path, question_file: Path, work: Path) -> tuple[dict, str, dict]:
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
    scales = [float(s) for s in args.scales.split(",")]
    guarded_configs = 1 + len(scales)
    progress = Progress(len(questions) * (1 + guarded_configs + 2) + args.scale_zero)
    summaries = []
    extra: dict = {"fallback": {}}
    index = target.index
    extractive = Answerer(lambda: [index], Settings())
    summaries.append(
        run_config("extractive", questions, lambda q, d: extractive.ask(AnswerRequest(q), AnswerHooks(on_delta=d)), read_lines, progress=progress)
    )
    try:
        for guard in (True, False):
            model_settings = ModelSettings(
                path=str(args.model), context_size=args.ctx_size, max_tokens=args.max_tokens, seed=args.seed,
                threads=args.eval_threads, adapters=(AdapterSpec("tuned", str(adapter)),), grounded_guard=guard,
            )
            settings = Settings(model=model_settings)
            settings = dataclasses.replace(settings, retrieval=dataclasses.replace(settings.retrieval, passages=args.passages))
            host = ModelHost(model_settings, logging.getLogger("ragls.bench"))
            try:
                host.start()
                host.wait_ready(300)
                status = host.status()
                if status.state != "ready" or [a.name for a in status.adapters] != ["tuned"]:
                    raise SystemExit(f"model or adapter not usable: {status}")
                modelled = Answerer(lambda: [index], settings, model=host)
                suffix = "" if guard else " (guard off)"
                runs = [("model", [])] + [(f"model+tuned@{s:g}", [("tuned", s)]) for s in (scales if guard else scales[:1])]
                for name, chosen in runs:
                    summary = run_config(
                        name + suffix, questions,
                        lambda q, d, chosen=chosen: modelled.ask(AnswerRequest(q, adapters=chosen), AnswerHooks(on_delta=d)),
                        read_lines, progress=progress,
                    )
                    summaries.append(summary)
                    extra["fallback"][summary.name] = sum(
                        any(FALLBACK in w for w in o.answer.warnings) for o in summary.outcomes if not o.question.unanswerable
                    )
                if guard and args.scale_zero:
                    # Scale 0 must give the base model's answers back, word for word (same seed).
                    base = {o.question.id: o.answer.text for o in summaries[1].outcomes}
                    zero = run_config(
                        "model+tuned@0", questions[: args.scale_zero],
                        lambda q, d: modelled.ask(AnswerRequest(q, adapters=[("tuned", 0.0)]), AnswerHooks(on_delta=d)),
                        read_lines, progress=progress,
                    )
                    same = sum(base[o.question.id] == o.answer.text for o in zero.outcomes)
                    extra["scaleZero"] = {"questions": len(zero.outcomes), "sameAsBase": same}
            finally:
                host.close()
    finally:
        target.close()
    return to_json(summaries, per_query=True), format_table(summaries), extra


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="SmolLM2-135M-Instruct GGUF (or another llama GGUF with a chat template)")
    parser.add_argument("--work", help="folder for the workspaces, examples, adapter and results (default: a temporary one)")
    parser.add_argument("--examples", default="ragls=all,stdlib=120,docs=300", help="training workspaces and their --limit (all: no limit)")
    parser.add_argument("--abstain-share", type=float, default=0.05)  # (run 6 of docs/FINE-TUNING.md)
    parser.add_argument("--ctx-size", type=int, default=2048, help="the model's context, in training prompts and in the evaluation")
    parser.add_argument("--max-tokens", type=int, default=256, help="answer reserve, in training prompts and in the evaluation")
    parser.add_argument("--passages", type=int, default=5, help="passages retrieved (the host focuses and keeps at most 3)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=float)
    length.add_argument("--steps", type=int)
    parser.add_argument("--max-minutes", type=float, default=18.0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--answerable", type=int, default=30)
    parser.add_argument("--unanswerable", type=int, default=10)
    parser.add_argument("--scales", default="1.0", help="adapter scales evaluated with the guard on (the first also with it off)")
    parser.add_argument("--scale-zero", type=int, default=10, help="questions answered at adapter scale 0 and compared with the base model")
    parser.add_argument("--eval-threads", type=int, default=1, help="llama.cpp threads in the evaluation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-training", action="store_true", help="evaluate the adapter and summary a previous run left in --work")
    args = parser.parse_args()

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="ragls-bench-tune-"))
    work.mkdir(parents=True, exist_ok=True)
    summary: dict = {"work": str(work), "options": vars(args)}

    question_file = work / "questions.jsonl"
    question_file.write_text("".join(json.dumps(q) + "\n" for q in test_questions(args.answerable, args.unanswerable)), encoding="utf-8")
    adapter = work / "behaviour.gguf"
    if args.skip_training:
        previous = json.loads((work / "summary.json").read_text(encoding="utf-8"))
        summary.update({k: previous[k] for k in ("trainData", "tune") if k in previous})
    else:
        data = make_training_data(args, work, summary)
        length = ["--steps", str(args.steps)] if args.steps else ["--epochs", str(args.epochs or 1.0)]
        tuned = ragls(
            "tune", "--base", args.model, "--data", str(data), "--out", str(adapter), *length,
            "--max-minutes", str(args.max_minutes), "--lr", str(args.lr), "--rank", str(args.rank),
            "--threads", str(args.threads), "--max-length", str(args.max_length), "--seed", str(args.seed), "--force", "--json",
            stdout=subprocess.PIPE,
        )
        summary["tune"] = json.loads(tuned.stdout)
        (work / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")

    started = time.perf_counter()
    summary["eval"], table, extra = evaluate(args, adapter, question_file, work)
    summary.update(extra)
    summary["evalSeconds"] = round(time.perf_counter() - started, 1)
    (work / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    answerable = args.answerable
    print(table)
    print("fell back to the extractive answer (of the answerable): " + ", ".join(f"{k} {v}/{answerable}" for k, v in extra["fallback"].items()))
    if "scaleZero" in extra:
        print(f"adapter scale 0: {extra['scaleZero']['sameAsBase']} of {extra['scaleZero']['questions']} answers the base model's word for word")
    return 0


if __name__ == "__main__":
    sys.exit(main())
