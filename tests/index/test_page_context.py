"""An answer without a model reads the other sections of the pages retrieval ranked best (a real
Tantivy index on disk, the server's own ``Answerer``): the right page is found more often than the
right passage of it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ragls.answering import Answerer
from ragls.core.requests import AnswerRequest
from ragls.index.workspace_index import WorkspaceIndex
from ragls.settings import RetrievalSettings, Settings

# The question's words are all over "Overview" and "Tuning"; the answer is in "Control loop", which
# shares only two of them (and says how often): retrieval (two passages per page) hands the first two sections over.
AUTOSCALER = textwrap.dedent(
    """\
    # Autoscaler

    ## Overview

    The autoscaler checks the metrics of every workload and changes its replica count.
    Each check of the metrics compares the observed value with the target the workload sets.
    An autoscaler check that finds no metrics leaves the replica count alone.

    ## Tuning

    You can tune how the autoscaler reacts to metrics with a stabilization window.
    A check of the metrics within the window never scales down below the highest recommendation.

    ## Control loop

    The autoscaler runs as a control loop inside the controller manager.
    By default the autoscaler loop runs every 15 seconds; set `--sync-period` to change it.
    """
)
OTHER = "# Storage\n\nVolumes keep data beyond the life of a container.\nA claim requests storage from a class.\n"
QUESTION = "How often does the autoscaler check metrics by default?"


@pytest.fixture
def index(tmp_path: Path):
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "autoscaler.md").write_text(AUTOSCALER)
    (root / "docs" / "storage.md").write_text(OTHER)
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    index.sync()
    yield index
    index.close()


def _answer(index: WorkspaceIndex, context_pages: int):
    settings = Settings(retrieval=RetrievalSettings(passages=2, context_pages=context_pages))
    answerer = Answerer(lambda: [index], settings)
    result = answerer.retrieve(QUESTION)
    return result, answerer.ask(AnswerRequest(QUESTION), retrieved=result)


def test_the_answer_comes_from_a_section_retrieval_did_not_hand_over(index):
    result, answer = _answer(index, context_pages=2)
    assert "Control loop" not in {h.chunk.heading[-1] for h in result.hits if h.chunk.heading}, "the test needs retrieval to miss the section"
    assert "15 seconds" in answer.text
    line = AUTOSCALER.split("\n").index("By default the autoscaler loop runs every 15 seconds; set `--sync-period` to change it.") + 1
    cited = [c for c in answer.citations if c.start_line <= line <= c.end_line]
    assert cited and cited[0].path == "docs/autoscaler.md" and cited[0].root == str(index.root)
    # the cited lines hold the sentence, and no more than the sentence
    assert (cited[0].start_line, cited[0].end_line) == (line, line)


def test_without_page_context_only_the_retrieved_passages_answer(index):
    _, answer = _answer(index, context_pages=0)
    assert "15 seconds" not in answer.text


def test_page_hits_follow_an_unsaved_buffer(index):
    index.set_overlay("docs/autoscaler.md", AUTOSCALER.replace("15 seconds", "40 seconds"))
    hits = index.page_hits(QUESTION, "docs/autoscaler.md")
    assert [h.chunk.start_line for h in hits] == sorted(h.chunk.start_line for h in hits)
    assert any("40 seconds" in h.chunk.text for h in hits)
    assert not any("15 seconds" in h.chunk.text for h in hits)
    assert index.page_hits(QUESTION, "docs/missing.md") == ()
