"""``ragls eval --answers``: index the workspace once, answer every question with each configuration,
print one table (``evaluation/answers.py`` has the rows and their meaning)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from ragls.core.requests import AnswerHooks, AnswerRequest
from ragls.evaluation.answers import (
    ConfigSummary, Progress, dumps, file_reader, format_per_query, format_table, load_answer_questions,
    run_config, to_json,
)
from ragls.evaluation.beir import DatasetError
from ragls.evaluation.workspace_eval import WorkspaceEval
from ragls.settings import Settings, parse_settings

log = logging.getLogger("ragls.eval")


def adapter_sets(raw_sets: list[str]) -> list[list[tuple[str, float]]]:
    """``["a.gguf:0.8,b.gguf", "c.gguf"]`` -> [[(a.gguf, 0.8), (b.gguf, 1.0)], [(c.gguf, 1.0)]]."""
    sets = []
    for raw in raw_sets:
        items = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            path, colon, scale = part.rpartition(":")
            try:
                items.append((path, float(scale)) if colon else (part, 1.0))
            except ValueError:  # a colon that belongs to the path
                items.append((part, 1.0))
        if not items:
            raise DatasetError(f"--adapter {raw!r}: no adapter in it")
        sets.append(items)
    return sets


def _model_settings(args: argparse.Namespace, sets: list[list[tuple[str, float]]]) -> tuple[Settings, dict[tuple[str, float], str]]:
    """Every adapter of every set registered by name (its file stem, made unique), none active by
    default: the plain "model" column answers without adapters."""
    raw: dict[str, Any] = {"path": args.model}
    names: dict[tuple[str, float], str] = {}
    adapters = []
    for items in sets:
        for path, scale in items:
            if (path, scale) not in names:
                name = f"{Path(path).stem}-{len(names) + 1}"
                names[(path, scale)] = name
                adapters.append({"name": name, "path": path, "scale": scale})
    if adapters:
        raw["adapters"] = adapters
    if args.gpu_layers is not None:
        raw["gpuLayers"] = args.gpu_layers
    settings, warnings = parse_settings({"model": raw})
    for warning in warnings:
        print(f"ragls eval: {warning}", file=sys.stderr)
    return settings, names


def run_answers(args: argparse.Namespace, params) -> int:
    from ragls.answering import Answerer

    if not args.workspace or not args.questions:
        raise DatasetError("--answers needs --workspace DIR and --questions FILE.jsonl")
    if args.adapter and not args.model:
        raise DatasetError("--adapter needs --model")
    questions = load_answer_questions(args.questions, args.split)
    if args.limit is not None:
        questions = questions[: max(args.limit, 0)]
    sets = adapter_sets(args.adapter)
    print(f"indexing {args.workspace} ...", file=sys.stderr)
    target = WorkspaceEval(args.workspace, index_dir=args.index_dir, params=params)
    read_lines = file_reader(args.workspace)
    progress = Progress(len(questions))
    summaries: list[ConfigSummary] = []
    host = None
    try:
        index = target.index
        extractive = Answerer(lambda: [index], Settings())
        summaries.append(run_config("extractive", questions, lambda q, d: extractive.ask(AnswerRequest(q), AnswerHooks(on_delta=d)), read_lines, progress=progress))
        if args.model:
            from ragls.model.host import ModelHost

            settings, names = _model_settings(args, sets)
            host = ModelHost(settings.model, log)
            host.start()
            host.wait_ready(args.model_timeout)
            status = host.status()
            columns = [("model", None)] + [
                ("model+" + "+".join(Path(p).stem for p, _ in items), [(names[(p, s)], s) for p, s in items]) for items in sets
            ]
            if status.state != "ready":
                note = f"model not ready ({status.state}: {status.detail}); not measured"
                summaries.extend(ConfigSummary(name, note=note) for name, _ in columns)
            else:
                modelled = Answerer(lambda: [index], settings, model=host)
                for name, chosen in columns:
                    summaries.append(
                        run_config(name, questions, lambda q, d, chosen=chosen: modelled.ask(AnswerRequest(q, adapters=chosen), AnswerHooks(on_delta=d)), read_lines, progress=progress)
                    )
    finally:
        if host is not None:
            host.close()
        target.close()
    if args.json:
        print(dumps(to_json(summaries, per_query=args.per_query)))
        return 0
    answerable = sum(not q.unanswerable for q in questions)
    print(f"{Path(args.questions).name} ({args.split}): {answerable} answerable, {len(questions) - answerable} unanswerable questions")
    print(format_table(summaries))
    if args.per_query:
        for summary in summaries:
            if summary.outcomes:
                print(format_per_query(summary))
    return 0
