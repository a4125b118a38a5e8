"""``ragls eval``: retrieval quality on a BEIR data set or on a workspace with a question file.

    ragls eval --beir DIR
    ragls eval --workspace DIR --questions FILE.jsonl [--split tune|test|all] [--ood-queries FILE]
    ragls eval --answers --workspace DIR --questions FILE.jsonl [--model M] [--adapter A:s[,B:s]] ...

Prints nDCG@10, MRR@10, Recall@5/10/100, per-query latency p50/p95 and abstention rates (the share
of in-domain questions retrieval answers; with ``--ood-queries``, the share of out-of-domain
questions it declines). ``--json`` for machines, ``--per-query`` to see each question.
``--answers`` measures the answers instead (``evaluation/answers.py``): one column per
configuration — extractive, the model, the model with each ``--adapter`` set.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from ragls.evaluation.beir import BeirIndex, DatasetError, load_beir, load_queries
from ragls.evaluation.runs import AbstentionSummary, RunSummary, run_abstention, run_questions
from ragls.evaluation.workspace_eval import SPLITS, WorkspaceEval, load_questions
from ragls.index.retrieval import RetrievalParams


def add_eval_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("eval", help="measure retrieval quality (nDCG, MRR, recall, latency, abstention)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--beir", metavar="DIR", help="BEIR data set: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    source.add_argument("--workspace", metavar="DIR", help="a workspace folder, indexed as the server indexes it")
    p.add_argument("--questions", metavar="FILE", help='JSON lines {"id", "question", "gold": [paths]} (with --workspace)')
    p.add_argument("--split", choices=SPLITS, default="all", help="workspace questions: tune = even ids, test = odd ids")
    p.add_argument("--qrels-split", default="test", help="BEIR qrels file name (default: test)")
    p.add_argument("--ood-queries", metavar="FILE", help="out-of-domain queries (JSON lines with _id/text) that should be declined")
    p.add_argument("--index-dir", help="keep the index here (reused by later runs) instead of a temporary folder")
    p.add_argument("--depth", type=int, default=100, help="ranked results per query (default 100, for Recall@100)")
    p.add_argument("--prf", type=int, default=None, metavar="N", help="pseudo-relevance feedback from the top N chunks (default 5, only for low-coverage queries; 0: off; --param prf_gate=1.01: always)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="override a RetrievalParams field (experiments)")
    answers = p.add_argument_group("answers (--answers): what users read, per configuration")
    answers.add_argument("--answers", action="store_true", help='measure answers: questions with "facts" or "unanswerable": true')
    answers.add_argument("--model", metavar="GGUF", help="also answer with this local model (a column), and with each --adapter set")
    answers.add_argument("--adapter", action="append", default=[], metavar="PATH[:SCALE][,PATH[:SCALE]...]", help="one adapter set (a column; repeatable)")
    answers.add_argument("--gpu-layers", type=int, help="model layers to offload (default: all when the build has a GPU)")
    answers.add_argument("--model-timeout", type=float, default=300.0, metavar="S", help="seconds to wait for the model to load (default 300)")
    answers.add_argument("--limit", type=int, metavar="N", help="only the first N questions (after --split)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--per-query", action="store_true", help="show every question (failures first)")
    p.set_defaults(func=run_eval)
    return p


def _params(args: argparse.Namespace) -> RetrievalParams:
    params = RetrievalParams()
    fields = {f.name: f.type for f in dataclasses.fields(RetrievalParams)}
    overrides = {}
    for raw in args.param:
        name, _, value = raw.partition("=")
        if name not in fields or not value:
            raise DatasetError(f"--param {raw!r}: expected NAME=VALUE with NAME one of {', '.join(fields)}")
        try:
            overrides[name] = int(value) if fields[name] in (int, "int") else float(value)
        except ValueError:
            raise DatasetError(f"--param {raw!r}: not a number") from None
    if args.prf is not None:
        overrides["prf_docs"] = args.prf
    return dataclasses.replace(params, **overrides)


def run_eval(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except DatasetError as exc:
        print(f"ragls eval: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.answers:
        from ragls.evaluation.answers_cli import run_answers

        return run_answers(args, _params(args) if args.param or args.prf is not None else None)
    params = _params(args)
    ood_texts = list(load_queries(Path(args.ood_queries)).values()) if args.ood_queries else None
    runs: list[RunSummary] = []
    abstention: AbstentionSummary | None = None
    if args.beir:
        dataset = load_beir(args.beir, args.qrels_split)
        if not args.json:
            print(f"indexing {len(dataset.corpus)} documents ...", file=sys.stderr)
        target = BeirIndex(dataset, params, index_dir=args.index_dir)
        name = Path(args.beir).name
        try:
            runs.append(run_questions(name, dataset.questions(), lambda q: target.rank(q, args.depth)))
            if ood_texts is not None:
                abstention = run_abstention(f"{Path(args.ood_queries).name} vs {name}", ood_texts, lambda q: target.rank(q, 10))
        finally:
            target.close()
    else:
        if not args.questions:
            raise DatasetError("--workspace needs --questions FILE.jsonl")
        splits = ("tune", "test") if args.split == "all" else (args.split,)
        question_sets = {split: load_questions(args.questions, split) for split in splits}
        if not args.json:
            print(f"indexing {args.workspace} ...", file=sys.stderr)
        target = WorkspaceEval(args.workspace, index_dir=args.index_dir, params=params)
        name = Path(args.workspace).name
        try:
            if args.split == "all":
                everything = question_sets["tune"] + question_sets["test"]
                runs.append(run_questions(f"{name} all", everything, lambda q: target.rank(q, args.depth)))
            for split, questions in question_sets.items():
                runs.append(run_questions(f"{name} {split}", questions, lambda q: target.rank(q, args.depth)))
            if ood_texts is not None:
                abstention = run_abstention(f"{Path(args.ood_queries).name} vs {name}", ood_texts, lambda q: target.rank(q, 10))
        finally:
            target.close()
    if args.json:
        payload = {"params": dataclasses.asdict(params), "runs": [r.to_json(args.per_query) for r in runs]}
        if abstention is not None:
            payload["abstention"] = abstention.to_json()
        print(json.dumps(payload, indent=2))
        return 0
    _print_text(runs, abstention, per_query=args.per_query)
    return 0


def _print_text(runs: list[RunSummary], abstention: AbstentionSummary | None, *, per_query: bool) -> None:
    header = f"{'set':<28}{'queries':>8}{'nDCG@10':>9}{'MRR@10':>8}{'R@5':>7}{'R@10':>7}{'R@100':>7}{'p50 ms':>8}{'p95 ms':>8}{'answered':>10}"
    print(header)
    for r in runs:
        m = r.metrics
        print(
            f"{r.name[:27]:<28}{r.queries:>8}{m['nDCG@10']:>9.4f}{m['MRR@10']:>8.4f}{m['Recall@5']:>7.3f}"
            f"{m['Recall@10']:>7.3f}{m['Recall@100']:>7.3f}{r.latency_p50_ms:>8.2f}{r.latency_p95_ms:>8.2f}{r.answered_rate:>10.1%}"
        )
    if abstention is not None:
        print(f"out-of-domain ({abstention.name}): {abstention.queries} queries, declined {abstention.declined_rate:.1%}")
    if per_query:
        outcomes = sorted(runs[-1].outcomes if len(runs) == 1 else runs[0].outcomes, key=lambda o: (o.scores["nDCG@10"], o.id))
        for o in outcomes:
            rank = next((i for i, item in enumerate(o.ranked, 1) if item in o.relevant), None)
            status = "answered" if o.covered else "declined"
            print(f"\n[{o.id}] nDCG@10 {o.scores['nDCG@10']:.3f}  first relevant at {rank or '-'}  {status} ({o.confidence:.2f})  {o.ms:.1f} ms")
            print(f"  Q: {o.text}")
            print(f"  relevant: {', '.join(o.relevant[:5])}")
            print(f"  top 3:    {', '.join(o.ranked[:3])}")
