"""Build ``k8s-answers.jsonl`` (questions with expected facts) from ``k8s-answers.source.jsonl``.

The source is written by hand, one question a line: ``{"page", "q", "facts", "kind"}`` for a question
the Kubernetes docs (``../shared/eval/k8s-docs/docs``) answer, ``{"unanswerable": true, "q", "kind"}``
for one they do not. Questions are paraphrased by their author, not copied from the page; the facts
are the words a correct answer must contain, copied from the page.

This script adds what is mechanical and checks what can be checked, so that a typo in a fact fails
here instead of silently lowering every score:

- ``gold``: the page and the line range that holds all of its facts (the closest occurrences);
- ``id`` (``a001``…, ``u001``…) and ``split``: odd numbers test, even numbers tune (the convention
  of ``ragls eval --split``);
- every fact must occur in the page (case- and whitespace-insensitive, the way ``ragls eval
  --answers`` matches facts in answers), and no fact may appear in its own question.

Run from the repository root:  python benchmarks/data/build_k8s_answers.py [--docs DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DOCS = HERE.parents[2] / "shared" / "eval" / "k8s-docs"


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def given_away(fact: str, question: str) -> bool:
    """The fact is a word or phrase of the question (``matchLabelKeys`` inside the feature gate
    name ``MatchLabelKeysInPodAffinity`` is not: the gate is what the user asks about)."""
    return re.search(rf"(?<![\w-]){re.escape(normalise(fact))}(?![\w-])", normalise(question)) is not None


def fact_lines(lines: list[str], fact: str) -> list[tuple[int, int]]:
    """(first, last) 1-based lines of every occurrence of ``fact`` (which may span a line break)."""
    joined, owner = "", []
    for number, line in enumerate(lines, 1):
        piece = normalise(line) + " "
        joined += piece
        owner.extend([number] * len(piece))
    needle = normalise(fact)
    found, start = [], joined.find(needle)
    while start >= 0:
        found.append((owner[start], owner[start + len(needle) - 1]))
        start = joined.find(needle, start + 1)
    return found


def gold_range(lines: list[str], facts: list[str]) -> tuple[int, int]:
    """The smallest line range holding one occurrence of every fact (earliest on ties)."""
    occurrences = {fact: fact_lines(lines, fact) for fact in facts}
    missing = [fact for fact, found in occurrences.items() if not found]
    if missing:
        raise ValueError(f"not in the page: {missing}")
    best: tuple[int, int] | None = None
    for anchor, _ in (o for found in occurrences.values() for o in found):
        lo = hi = anchor
        for found in occurrences.values():
            first, last = min(found, key=lambda o: (abs(o[0] - anchor), o[0]))
            lo, hi = min(lo, first), max(hi, last)
        if best is None or (hi - lo, lo) < (best[1] - best[0], best[0]):
            best = (lo, hi)
    assert best is not None
    return best


def build(source: Path, docs: Path) -> list[dict]:
    rows, errors = [], []
    answerable = unanswerable = 0
    for number, raw in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        item = json.loads(raw)
        if item.get("unanswerable"):
            unanswerable += 1
            qid = f"u{unanswerable:03d}"
            rows.append({"id": qid, "question": item["q"], "unanswerable": True, "kind": item["kind"],
                         "split": "test" if unanswerable % 2 else "tune"})
            continue
        answerable += 1
        qid = f"a{answerable:03d}"
        page = docs / "docs" / item["page"]
        if not page.is_file():
            errors.append(f"{source.name}:{number}: no page {item['page']}")
            continue
        lines = page.read_text(encoding="utf-8").split("\n")
        in_question = [f for f in item["facts"] if given_away(f, item["q"])]
        if in_question:
            errors.append(f"{source.name}:{number}: facts given away by the question: {in_question}")
        try:
            start, end = gold_range(lines, item["facts"])
        except ValueError as exc:
            errors.append(f"{source.name}:{number} ({item['page']}): {exc}")
            continue
        rows.append({
            "id": qid, "question": item["q"],
            "gold": [{"path": f"docs/{item['page']}", "start": start, "end": end}],
            "facts": item["facts"], "kind": item["kind"],
            "split": "test" if answerable % 2 else "tune",
        })
    if errors:
        raise SystemExit("\n".join(errors))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="the k8s-docs folder (holding docs/)")
    parser.add_argument("--source", type=Path, default=HERE / "k8s-answers.source.jsonl")
    parser.add_argument("--out", type=Path, default=HERE / "k8s-answers.jsonl")
    args = parser.parse_args()
    rows = build(args.source, args.docs)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    pages = {r["gold"][0]["path"] for r in rows if "gold" in r}
    print(f"{args.out.name}: {sum('gold' in r for r in rows)} answerable on {len(pages)} pages, "
          f"{sum(bool(r.get('unanswerable')) for r in rows)} unanswerable", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
