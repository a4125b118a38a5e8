"""Abstention by workspace size: does ragls answer what a workspace covers and decline what it does
not, whether the workspace has 1 page or 1,569?

For each size (default 1, 10, 100 and every page of ``../shared/eval/k8s-docs``) the answerable
questions of ``benchmarks/data/k8s-answers.jsonl`` are asked of workspaces of that many pages that
always hold each question's gold page (the others drawn at random, seeded); the unanswerable
questions are asked of the same workspaces. Then the ragls repository itself: its own questions
(``docs/eval/ragls-questions.jsonl``) should be answered, and every k8s question declined (the
shipped question files are excluded from that index: they contain the questions).

"Answered" is what the user sees: retrieval judged the question covered (``Retriever.rank``, the
server's limits), exactly the decision ``Answerer.ask`` takes before answering.

    .venv/bin/python benchmarks/abstention_by_size.py [--split test|tune|all] [--sizes 1,10,100,all] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_tune import EVALUATION_PAGES  # noqa: E402
from ragls.evaluation.answers import load_answer_questions  # noqa: E402
from ragls.evaluation.workspace_eval import load_questions  # noqa: E402
from ragls.index.workspace_index import WorkspaceIndex  # noqa: E402
from ragls.settings import IndexSettings  # noqa: E402

DOCS = ROOT.parent / "shared" / "eval" / "k8s-docs"
QUESTIONS = ROOT / "benchmarks" / "data" / "k8s-answers.jsonl"
# Unanswerable questions are asked of at most this many workspaces per size (size 1 builds one
# workspace per answerable question; asking every unanswerable one of each adds nothing new).
MAX_WORKSPACES_FOR_UNANSWERABLE = 24
# Pages of this repository that report the k8s evaluation and quote its questions (as the
# question files do) are left out of the repository's index, as bench_tune.py leaves them out of
# its training data: a repository that quotes a question covers it.
QUOTING_PAGES = tuple(sorted(EVALUATION_PAGES))


def _covered(index: WorkspaceIndex, question: str) -> tuple[bool, float]:
    ranking = index.retriever.rank(question, limit=5, max_per_file=2)
    return ranking.covered, ranking.confidence


def _workspaces(size: int | None, answerable, pages: list[str], rng: random.Random):
    """(pages, questions) per workspace: each answerable question lands in a workspace holding its gold page."""
    if size is None:
        return [(pages, answerable)]
    per = max(1, size // 2) if size > 1 else 1  # half gold pages, half drawn: the gold pages are not all there is
    order = list(answerable)
    rng.shuffle(order)
    groups = []
    for start in range(0, len(order), per):
        group = order[start : start + per]
        gold = list(dict.fromkeys(q.gold[0].removeprefix("docs/") for q in group))
        others = [p for p in pages if p not in gold]
        chosen = gold + rng.sample(others, max(0, size - len(gold)))
        groups.append((chosen[:max(size, len(gold))], group))
    return groups


def measure_size(size: int | None, answerable, unanswerable, pages, rng) -> dict:
    answered = asked = declined = asked_un = 0
    misses = []
    with tempfile.TemporaryDirectory(prefix="ragls-abst-") as tmp:
        for number, (chosen, group) in enumerate(_workspaces(size, answerable, pages, rng)):
            work = Path(tmp) / f"w{number}"
            (work / "docs").mkdir(parents=True)
            for page in chosen:
                shutil.copyfile(DOCS / "docs" / page, work / "docs" / page)
            index = WorkspaceIndex(work, IndexSettings(), index_dir=Path(tmp) / f"i{number}")
            index.sync()
            try:
                for q in group:
                    covered, confidence = _covered(index, q.text)
                    answered += covered
                    asked += 1
                    if not covered:
                        misses.append((q.id, round(confidence, 3), q.text))
                if number < MAX_WORKSPACES_FOR_UNANSWERABLE:
                    for q in unanswerable:
                        covered, confidence = _covered(index, q.text)
                        declined += not covered
                        asked_un += 1
                        if covered:
                            misses.append((q.id, round(confidence, 3), q.text))
            finally:
                index.close()
            shutil.rmtree(work)
    return {"size": "all" if size is None else size, "answered": answered / asked, "declined": declined / asked_un,
            "answerable_asked": asked, "unanswerable_asked": asked_un, "misses": misses}


def measure_repo(all_k8s) -> dict:
    own = load_questions(ROOT / "docs" / "eval" / "ragls-questions.jsonl")
    with tempfile.TemporaryDirectory(prefix="ragls-abst-repo-") as tmp:
        index = WorkspaceIndex(ROOT, IndexSettings(exclude=("benchmarks/data/", *QUOTING_PAGES)), index_dir=Path(tmp))
        index.sync()
        try:
            answered = [(_covered(index, q.text), q) for q in own]
            declined = [(_covered(index, q.text), q) for q in all_k8s]
        finally:
            index.close()
    misses = [(q.id, round(c, 3), q.text) for (ok, c), q in answered if not ok]
    misses += [(q.id, round(c, 3), q.text) for (ok, c), q in declined if ok]
    return {"size": "ragls repo", "answered": sum(ok for (ok, _), _ in answered) / len(answered),
            "declined": sum(not ok for (ok, _), _ in declined) / len(declined),
            "answerable_asked": len(answered), "unanswerable_asked": len(declined), "misses": misses}


def main() -> int:
    parser = argparse.ArgumentParser(description="abstention by workspace size")
    parser.add_argument("--split", choices=("all", "tune", "test"), default="test")
    parser.add_argument("--sizes", default="1,10,100,all")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", action="store_true", help="list the questions each size gets wrong")
    args = parser.parse_args()
    questions = load_answer_questions(QUESTIONS, args.split)
    answerable = [q for q in questions if not q.unanswerable]
    unanswerable = [q for q in questions if q.unanswerable]
    pages = sorted(p.name for p in (DOCS / "docs").glob("*.md"))
    rows = []
    for raw in args.sizes.split(","):
        size = None if raw.strip() == "all" else int(raw)
        rows.append(measure_size(size, answerable, unanswerable, pages, random.Random(args.seed)))
        print(f"size {rows[-1]['size']}: done", file=sys.stderr)
    rows.append(measure_repo(questions))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'workspace':<14}{'answered':>10}{'declined':>10}   (answerable asked / unanswerable asked)")
    for row in rows:
        print(f"{str(row['size']):<14}{row['answered']:>10.1%}{row['declined']:>10.1%}   ({row['answerable_asked']} / {row['unanswerable_asked']})")
    if args.misses:
        for row in rows:
            for qid, confidence, text in row["misses"]:
                print(f"  {row['size']}: {qid} {confidence:.3f} {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
