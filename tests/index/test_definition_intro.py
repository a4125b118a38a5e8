"""Definition questions on a real index: "What is a Gizmo for?" reaches the opening of the page
about gizmos, even when its later sections use the word more often."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragls.core.extractive import extractive_answer
from ragls.core.query import definition_subject
from ragls.index.retrieval import RetrievalParams, Retriever
from ragls.index.workspace_index import WorkspaceIndex

GIZMO = """---
title: Gizmo
---

A _Gizmo_ ensures that every node runs one copy of a helper process.

## Create a Gizmo

Create a Gizmo from the gizmo manifest: the Gizmo manifest names the Gizmo image and the Gizmo
labels, and each Gizmo gets its Gizmo status.

## Update a Gizmo

Update a Gizmo by editing the Gizmo manifest; the Gizmo controller rolls the Gizmo out and the
Gizmo history keeps every Gizmo revision of the Gizmo.

## Delete a Gizmo

Delete a Gizmo with the Gizmo command; the Gizmo and its Gizmo pods go, unless the Gizmo orphan
flag keeps the Gizmo pods of the Gizmo.
"""


@pytest.mark.parametrize(
    "question, subject",
    [
        ("What is a DaemonSet for?", "DaemonSet"),
        ("What is a container image?", "container image"),
        ("What are operators?", "operators"),
        ("What is the backoff of the retry_policy?", "backoff"),
        ("How do I create a DaemonSet?", ""),
        ("What is the best way to roll out a change to every node in the cluster?", ""),
    ],
)
def test_definition_subject(question, subject):
    assert definition_subject(question) == subject


def _index(tmp_path: Path) -> WorkspaceIndex:
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "gizmo.md").write_text(GIZMO)
    (root / "docs" / "other.md").write_text("# Other\n\nA widget is not a Gizmo: widgets run once per cluster.\n")
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    index.sync()
    return index


def test_a_definition_question_keeps_the_page_opening_among_its_passages(tmp_path: Path):
    index = _index(tmp_path)
    question = "What is a Gizmo for?"
    result = index.search(question, limit=5, max_per_file=2)
    gizmo = [h.chunk for h in result.hits if h.chunk.path == "docs/gizmo.md"]
    assert any(c.start_line == 1 for c in gizmo), [(c.start_line, c.heading) for c in gizmo]
    answer = extractive_answer(question, result)
    assert "A _Gizmo_ ensures that every node runs one copy of a helper process. [" in answer.text
    # Without the rule the sections that repeat the word take both of the page's places.
    plain = Retriever(index.retriever._index, RetrievalParams(definition_intro=False))
    ranking = plain.rank(question, limit=5, max_per_file=2)
    assert not any(r.chunk.path == "docs/gizmo.md" and r.chunk.start_line == 1 for r in ranking.hits)
    index.close()


def test_other_questions_rank_as_before(tmp_path: Path):
    index = _index(tmp_path)
    question = "How do I update a Gizmo?"
    lifted = [(r.chunk.path, r.chunk.start_line) for r in index.retriever.rank(question, limit=5, max_per_file=2).hits]
    plain = Retriever(index.retriever._index, RetrievalParams(definition_intro=False))
    assert lifted == [(r.chunk.path, r.chunk.start_line) for r in plain.rank(question, limit=5, max_per_file=2).hits]
    index.close()
