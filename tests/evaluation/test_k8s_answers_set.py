"""The shipped answer set (benchmarks/data/k8s-answers.jsonl) against the pages it was built from.

Every fact must occur inside the cited lines of its gold page (case- and whitespace-insensitive, the
way ``ragls eval --answers`` matches facts), questions must be paraphrases rather than copies of
the page, and the file must be exactly what its build script makes from the hand-written source.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "benchmarks" / "data"
DOCS = ROOT.parent / "shared" / "eval" / "k8s-docs"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [json.loads(line) for line in (DATA / "k8s-answers.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def builder():
    spec = importlib.util.spec_from_file_location("build_k8s_answers", DATA / "build_k8s_answers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_are_there():
    # The shared folder is on every machine and in CI (../shared/README.md); without it nothing below means anything.
    assert (DOCS / "docs").is_dir(), f"missing {DOCS}/docs"


def test_sizes_and_mix(rows):
    answerable = [r for r in rows if not r.get("unanswerable")]
    unanswerable = [r for r in rows if r.get("unanswerable")]
    assert len(answerable) >= 150
    assert len({r["gold"][0]["path"] for r in answerable}) >= 100
    kinds = {r["kind"] for r in answerable}
    assert {"number", "flag", "field", "howto", "definition"} <= kinds
    assert len(unanswerable) >= 50
    assert sum(r["kind"] == "k8s-vocabulary" for r in unanswerable) >= len(unanswerable) / 2
    assert len({r["id"] for r in rows}) == len(rows)
    for split in ("tune", "test"):
        assert sum(r["split"] == split for r in answerable) >= 75
        assert sum(r["split"] == split for r in unanswerable) >= 25


def test_every_fact_occurs_in_the_cited_lines_of_the_gold_page(rows):
    failures = []
    for row in (r for r in rows if not r.get("unanswerable")):
        gold = row["gold"][0]
        lines = (DOCS / gold["path"]).read_text(encoding="utf-8").split("\n")
        assert 1 <= gold["start"] <= gold["end"] <= len(lines), row["id"]
        cited = _norm("\n".join(lines[gold["start"] - 1 : gold["end"]]))
        failures += [(row["id"], fact) for fact in row["facts"] if _norm(fact) not in cited]
    assert failures == []


def test_questions_are_paraphrased_not_copied(rows, builder):
    copied, given_away = [], []
    for row in (r for r in rows if not r.get("unanswerable")):
        page = _norm(" ".join(re.findall(r"[^\W_]+", (DOCS / row["gold"][0]["path"]).read_text(encoding="utf-8"))))
        words = re.findall(r"[^\W_]+", row["question"].casefold())
        # no run of 6 words of the question is a run of words of its page
        if any(" ".join(words[i : i + 6]) in page for i in range(len(words) - 5)):
            copied.append(row["id"])
        given_away += [row["id"] for fact in row["facts"] if builder.given_away(fact, row["question"])]
    assert copied == [] and given_away == []


def test_the_file_is_what_the_script_builds(builder):
    built = builder.build(DATA / "k8s-answers.source.jsonl", DOCS)
    shipped = [json.loads(line) for line in (DATA / "k8s-answers.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert built == shipped


def test_the_builder_rejects_a_fact_missing_from_its_page(tmp_path, builder):
    source = tmp_path / "source.jsonl"
    page = "concepts_workloads_controllers_daemonset.md"
    source.write_text(json.dumps({"page": page, "q": "What is it for?", "facts": ["no such words on that page"], "kind": "definition"}) + "\n")
    with pytest.raises(SystemExit, match="not in the page"):
        builder.build(source, DOCS)
