"""Focus benchmark: do the passages a model is shown hold the answer?

Indexes ``../shared/eval/k8s-docs`` (``WorkspaceIndex.sync``; the index folder is kept between runs
under ``--index-dir``, so a second run only checks for changes), then for each answerable question
of ``benchmarks/data/k8s-answers.jsonl`` retrieves as ``Answerer.retrieve`` does (the server's
``passages`` and ``max_per_file``) and builds the prompt as the model host does
(``core.prompting.build_prompt`` with the answer mode's texts, context 2048, max_tokens 256,
``estimate_tokens``, ``focus_tokens=FOCUS_TOKENS``). Printed per focus rule:

- the share of questions whose prompt passages (all of them together) hold every fact of the
  question, and the share holding at least one (facts matched as ``ragls eval --answers`` matches
  them: ``answer_scoring.contains_fact``);
- the same two shares for the prompt ``Answerer.ask`` builds (``guided+<default rule>``: the passages
  that hold the extractive answer's sentences first, ``core.extractive.passages_for_model``), and for
  the extractive answer's text (what the model competes with);
- mean / p95 passage tokens per prompt (estimated, headers included).

The focus rules compared are ``prompting.FOCUS_RULES`` (the current default and the ones kept for
comparison), all in one run on the same retrieval.

    .venv/bin/python benchmarks/bench_focus.py [--split tune|test|all] [--index-dir DIR] [--misses RULE] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

from ragls.answering import Answerer  # noqa: E402
from ragls.core import prompting  # noqa: E402
from ragls.core.extractive import extractive_answer_and_passages, passages_for_model  # noqa: E402
from ragls.evaluation.answer_scoring import contains_fact  # noqa: E402
from ragls.evaluation.answers import load_answer_questions  # noqa: E402
from ragls.index.workspace_index import WorkspaceIndex  # noqa: E402
from ragls.model.resources import load_mode  # noqa: E402
from ragls.settings import IndexSettings, Settings  # noqa: E402

DOCS = ROOT.parent / "shared" / "eval" / "k8s-docs"
QUESTIONS = ROOT / "benchmarks" / "data" / "k8s-answers.jsonl"
# What the model host is given by default (ModelSettings: contextSize 2048, maxTokens 256).
CONTEXT_SIZE = 2048
MAX_TOKENS = 256


def _p95(values: list[int]) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]) if ordered else 0.0


class Tally:
    def __init__(self) -> None:
        self.all = self.some = self.asked = 0
        self.tokens: list[int] = []
        self.misses: list[tuple[str, str, list[str]]] = []

    def add(self, qid: str, question: str, text: str, facts: tuple[str, ...], tokens: int | None = None) -> None:
        found = [f for f in facts if contains_fact(text, f)]
        self.asked += 1
        self.all += len(found) == len(facts)
        self.some += bool(found)
        if len(found) < len(facts):
            self.misses.append((qid, question, [f for f in facts if f not in found]))
        if tokens is not None:
            self.tokens.append(tokens)

    def row(self) -> dict:
        n = self.asked or 1
        row = {"all_facts": self.all / n, "some_fact": self.some / n, "asked": self.asked}
        if self.tokens:
            row |= {"mean_tokens": statistics.fmean(self.tokens), "p95_tokens": _p95(self.tokens)}
        return row


def main() -> int:
    parser = argparse.ArgumentParser(description="do the focused prompt passages hold the answer?")
    parser.add_argument("--split", choices=("all", "tune", "test"), default="tune")
    parser.add_argument("--index-dir", type=Path, default=Path("/tmp/ragls-bench-focus-index"))
    parser.add_argument("--misses", metavar="RULE", help="list the questions RULE (or 'extractive', or 'guided': the prompt Answerer.ask builds) misses a fact of")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    questions = [q for q in load_answer_questions(QUESTIONS, args.split) if not q.unanswerable]
    settings = Settings()
    texts = load_mode("answer").texts
    index = WorkspaceIndex(DOCS, IndexSettings(), index_path=args.index_dir)
    tallies = {rule: Tally() for rule in prompting.FOCUS_RULES}
    extractive = Tally()
    guided_tally = Tally()
    try:
        index.sync()
        answerer = Answerer(lambda: [index], settings)
        for q in questions:
            result = answerer.retrieve(q.text)
            if not result.covered:
                # Not covered: no model is asked and the extractive answer abstains; a miss for all.
                for tally in (*tallies.values(), extractive, guided_tally):
                    tally.add(q.id, q.text, "", q.facts, 0 if tally is not extractive else None)
                continue
            context = answerer.page_context(result)
            extracted, answered_from = extractive_answer_and_passages(q.text, result, context=context)
            extractive.add(q.id, q.text, extracted.text, q.facts)
            # what Answerer.ask shows a model: the passages of the extractive answer's sentences first
            guided = passages_for_model(q.text, answered_from, result.hits)
            plan = prompting.build_prompt(
                q.text, guided, texts, context_size=CONTEXT_SIZE, max_tokens=MAX_TOKENS,
                count_tokens=prompting.estimate_tokens, focus_tokens=prompting.FOCUS_TOKENS,
            )
            shown = "\n".join(p.text for p in plan.passages)
            guided_tally.add(q.id, q.text, shown, q.facts, sum(prompting.estimate_tokens(p.render()) for p in plan.passages))
            for rule, tally in tallies.items():
                plan = prompting.build_prompt(
                    q.text, result.hits, texts, context_size=CONTEXT_SIZE, max_tokens=MAX_TOKENS,
                    count_tokens=prompting.estimate_tokens, focus_tokens=prompting.FOCUS_TOKENS, focus_rule=rule,
                )
                shown = "\n".join(p.text for p in plan.passages)
                tokens = sum(prompting.estimate_tokens(p.render()) for p in plan.passages)
                tally.add(q.id, q.text, shown, q.facts, tokens)
    finally:
        index.close()

    rows = (
        {f"focus:{rule}": tally.row() for rule, tally in tallies.items()}
        | {f"guided+{prompting.FOCUS_RULE}": guided_tally.row(), "extractive": extractive.row()}
    )
    if args.json:
        print(json.dumps({"split": args.split, "questions": len(questions), "rows": rows}, indent=2))
    else:
        print(f"split {args.split}: {len(questions)} answerable questions (default focus rule: {prompting.FOCUS_RULE})")
        print(f"{'':<22}{'all facts':>10}{'a fact':>8}{'mean tok':>10}{'p95 tok':>9}")
        for name, row in rows.items():
            tokens = f"{row['mean_tokens']:>10.1f}{row['p95_tokens']:>9.0f}" if "mean_tokens" in row else ""
            print(f"{name:<22}{row['all_facts']:>10.1%}{row['some_fact']:>8.1%}{tokens}")
    if args.misses:
        tally = extractive if args.misses == "extractive" else guided_tally if args.misses == "guided" else tallies[args.misses]
        for qid, text, missing in tally.misses:
            print(f"  {qid} {text}  missing: {missing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
